"""DOB ECB Violations (6bgk-3dad): summonses heard at ECB/OATH, with hearings, penalties, payments and balances.

Lifecycle: issued -> served -> hearing (PENDING until then) -> outcome with a penalty -> payments -> certified
and RESOLVE. Serious: severity "Hazardous" (before 2017) or "CLASS - 1" (from 2017), drawn from the serious rate.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from citysim.synth.context import Batch, Events
from citysim.synth.datasets.common import encode, later
from citysim.synth.risk import CURE_SHARE, NEGLECT_PAPERWORK, PAY_SHARE, SERIOUS_SHARES

DATASET_ID = "6bgk-3dad"
RATE = 0.0018
CLASS_SEVERITY_FROM = 17_167  # 2017-01-01 as a day number: severities are "CLASS - n" from then on

# (violation type, infraction code, padded section/law description, violation description)
TYPES = [
    (
        "Construction",
        "204",
        "28-302.1" + " " * 68 + "FAILURE TO MAINTAIN BLDG WALL(S) OR APPURTENANCES",
        "FAILURE TO MAINTAIN EXTERIOR BUILDING WALL. NOTED: CRACKED AND LOOSE BRICKS AT FACADE",
    ),
    (
        "Elevators",
        "BP7",
        "27-987" + " " * 70 + "FAILURE TO MAINTAIN ELEVATOR",
        "HOIST ROPES DIRTY, CLEAN FOR PROPER INSPECTION.",
    ),
    (
        "Boilers",
        "B47",
        "28-303.7" + " " * 68 + "FAILURE TO FILE BOILER INSPECTION REPORT",
        "FAILURE TO FILE ANNUAL BOILER INSPECTION REPORT",
    ),
    (
        "Quality of Life",
        "B24",
        "BC 1008.1.9" + " " * 65 + "EGRESS DOOR LOCKED OR OBSTRUCTED",
        "EXIT DOOR LOCKED FROM INSIDE REQUIRING KEY.",
    ),
    (
        "Plumbing",
        "B66",
        "28-105.1" + " " * 68 + "WORK WITHOUT A PERMIT",
        "WORK WITHOUT A PERMIT. NOTED: GAS PIPING INSTALLED WITHOUT PERMIT",
    ),
]
OUTCOMES = ("IN VIOLATION", "DEFAULT", "DISMISSED", "CURED/IN-VIO", "STIPULATION/IN-VIO", "ADMIT/IN-VIO")
OUTCOME_P = (0.30, 0.20, 0.15, 0.15, 0.12, 0.08)


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    drawn = batch.draw_with_serious(
        RATE * batch.risk.activity**0.7 * batch.months.fraction[None, :],
        batch.risk.serious_rate * SERIOUS_SHARES["ecb_hazardous"],
    )
    b, day, month, serious = drawn.b, drawn.day, drawn.cols["month"], drawn.cols["serious"]
    n = len(b)
    neglect = batch.risk.neglect[b, month]
    served = day + rng.integers(0, 15, size=n)
    hearing = served + rng.integers(30, 100, size=n)
    outcome = rng.choice(len(OUTCOMES), size=n, p=OUTCOME_P)
    dismissed = outcome == 2
    base = np.where(serious, rng.choice([1000, 2500, 5000, 10000], size=n), rng.choice([250, 625, 800, 1250], size=n))
    penalty = np.where(dismissed, 0, base * np.where(outcome == 1, 2, 1))  # defaults pay double
    trait = batch.risk.trait[b, month]
    paperwork = np.where(neglect, NEGLECT_PAPERWORK, 1.0)
    pays = (rng.random(n) < PAY_SHARE[trait] * paperwork) & ~dismissed
    paid_day = np.where(pays, later(rng, hearing, 120.0), 10**7)
    certified = np.where(rng.random(n) < CURE_SHARE[trait] * paperwork, later(rng, hearing, 200.0), 10**7)
    key = batch.ids.take(DATASET_ID, n, 34_000_000)
    suffix = rng.integers(0, 26, size=n)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return Events(
        b=b,
        day=day,
        cols={
            "key": key,
            "natural_key": np.char.add(key.astype(str), letters[suffix]),
            "kind": np.where(serious, "ecb_hazardous", "ecb_violation"),
            "serious": serious,
            "month": month,
            "isn": batch.ids.take("ecb_isn", n, 400_000),
            "type": rng.integers(0, len(TYPES), size=n),
            "served": served,
            "hearing": hearing,
            "time": rng.choice([830, 1030, 1300], size=n),
            "outcome": outcome,
            "penalty": penalty,
            "paid_day": paid_day,
            "certified": np.where(dismissed, hearing, certified),
            "resp_blank_zip": rng.random(n) < 0.1,
            "suffix": suffix,
            "class3": rng.random(n) < 0.3,
        },
    )


def change_days(ev: Events) -> list[np.ndarray]:
    c = ev.cols
    return [ev.day, c["hearing"], c["paid_day"], c["certified"]]


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    s, ymd = batch.s, batch.fmt.ymd
    buildings, days, c = ev.published(as_of, select)
    for i, (b, day) in enumerate(zip(buildings, days, strict=True)):
        vtype, infraction, section, description = TYPES[c["type"][i]]
        heard = c["hearing"][i] <= as_of
        paid = c["paid_day"][i] <= as_of
        certified = c["certified"][i] <= as_of
        dismissed = heard and c["outcome"][i] == 2
        penalty = c["penalty"][i] if heard else 0
        amount_paid = penalty if paid else 0
        resolved = dismissed or (heard and paid and certified)
        if day >= CLASS_SEVERITY_FROM:
            severity = "CLASS - 1" if c["serious"][i] else ("CLASS - 3" if c["class3"][i] else "CLASS - 2")
        else:
            severity = "Hazardous" if c["serious"][i] else "Non-Hazardous"
        issue = ymd(day)
        if dismissed:
            cert_status = "N/A - DISMISSED"
        elif certified and heard:
            cert_status = "CERTIFICATE ACCEPTED"
        else:
            cert_status = "NO COMPLIANCE RECORDED"
        row = {
            "isn_dob_bis_extract": str(c["isn"][i]),
            "ecb_violation_number": c["natural_key"][i],
            "ecb_violation_status": "RESOLVE" if resolved else "ACTIVE",
            # MMDDYY + unit letters + inspector / sequence, e.g. "012910STFJH04", "022805E2171A3".
            "dob_violation_number": f"{issue[4:8]}{issue[2:4]}{vtype[0]}{c['isn'][i] % 10000:04d}"
            f"{'ABCDEFGHJK'[c['isn'][i] % 10]}{c['suffix'][i] % 10}",
            "bin": s.bin[b],
            "boro": s.boroid[b],
            "block": s.block5[b],
            "lot": s.lot4[b],
            "hearing_date": ymd(c["hearing"][i]),
            "hearing_time": str(c["time"][i]),
            "served_date": ymd(c["served"][i]) if c["served"][i] <= as_of else None,
            "issue_date": issue,
            "severity": severity,
            "violation_type": vtype,
            "respondent_name": f"TO THE OWNER OF {s.house[b]} {s.street[b]}"[:40],
            "respondent_house_number": s.house[b],
            "respondent_street": s.street[b],
            "respondent_city": s.boro_name[b] if s.boroid[b] != "1" else "NEW YORK",
            "respondent_zip": "     " if c["resp_blank_zip"][i] else s.zip[b],
            "violation_description": description,
            "penality_imposed": f"{penalty:.2f}" if penalty else ".00",
            "amount_paid": f"{amount_paid:.2f}" if amount_paid else ".00",
            "balance_due": f"{penalty - amount_paid:.2f}" if penalty - amount_paid else ".00",
            "infraction_code1": infraction,
            "section_law_description1": section,
            "aggravated_level": "NO",
            "hearing_status": OUTCOMES[c["outcome"][i]] if heard else "PENDING",
            "certification_status": cert_status,
        }
        yield encode(row)
