"""HPD Housing Maintenance Code Violations (wvxf-dwi5).

Lifecycle per violation: inspection -> approved -> NOV issued with correct-by / certify-by dates by class
(C: 24 hours for heat, hot water and similar, else 5 days, certify 5 days later; B: 30 days; A: 90 days; plus 5
days of mailing for A and B as in the real rows; certify-by 14 days after correct-by) -> owner certifies (on time
or late) or not -> reinspection closes it, finds it not complied with or gets no access; some certifications are
found invalid and the violation reopens; some violations are dismissed. Class I (information orders) carry no NOV
dates. `violationstatus` is exactly "Open"/"Close".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from citysim.synth.context import Batch, BuildingStrings, Events
from citysim.synth.datasets.common import NEVER, later, ordinal, plain
from citysim.synth.risk import (
    CERTIFY_SHARE,
    NEGLECT_PAPERWORK,
    REINSPECT_DAYS,
    SERIOUS_BASE,
    SERIOUS_SHARES,
    heat_season,
)

DATASET_ID = "wvxf-dwi5"

STATUS = {
    2: "NOV SENT OUT",
    4: "NOV CERTIFIED LATE",
    9: "VIOLATION DISMISSED",
    11: "VIOLATION WILL BE REINSPECTED",
    19: "VIOLATION CLOSED",
    20: "DEFECT LETTER ISSUED",
    21: "NOT COMPLIED WITH",
    22: "FIRST NO ACCESS TO RE- INSPECT VIOLATION",
    23: "SECOND NO ACCESS TO RE-INSPECT VIOLATION",
    27: "INFO NOV SENT OUT",
    28: "INVALID CERTIFICATION",
}
CLOSED_IDS = frozenset({9, 19})

# Real class mix in the 1000-row API sample: B 48 %, C 30 %, A 20 %, I 3 %. C carries the winter peak, so the
# other classes are scaled by the yearly mean of that peak to keep the yearly mix.
CLASS_MIX = {"A": 20 / 30, "B": 48 / 30, "I": 3 / 30}

# (order number, description, heat-like C that must be corrected in 24 hours)
TEMPLATES: dict[str, list[tuple[str, str, bool]]] = {
    "A": [
        ("506", "SECTION 27-2005 ADM CODE REPLACE WITH NEW THE MISSING HANDRAIL AT {w}", False),
        (
            "502",
            "SECTION 27-2005 ADM CODE PROPERLY REPAIR THE BROKEN OR DEFECTIVE PLASTERED SURFACES AND PAINT IN "
            "A UNIFORM COLOR {w}",
            False,
        ),
        (
            "501",
            "SECTION 27-2005 ADM CODE PAINT WITH LIGHT COLORED PAINT TO THE SATISFACTION OF THIS DEPARTMENT {w}",
            False,
        ),
        ("530", "SECTION 27-2046.1 HMC: REPAIR OR REPLACE THE SMOKE DETECTOR {w}", False),
    ],
    "B": [
        ("508", "SECTION 27-2005 ADM CODE PROPERLY REPAIR THE BROKEN OR DEFECTIVE WOOD FLOOR {w}", False),
        (
            "550",
            "SECTION 27-2005 HMC:TRACE AND REPAIR THE SOURCE AND ABATE THE NUISANCE CONSISTING OF MOLD ... AT "
            "WALLS {w}",
            False,
        ),
        ("556", "SECTION 27-2017.3 HMC: ABATE THE INFESTATION CONSISTING OF MICE {w}", False),
        ("505", "SECTION 27-2005 ADM CODE REPAIR THE LEAKY AND/OR DEFECTIVE FAUCETS {w}", False),
        ("702", "SECTION 27-2005 ADM CODE PROPERLY REPAIR THE BROKEN OR DEFECTIVE DOOR {w}", False),
        ("568", "SECTION 27-2005 ADM CODE REPAIR THE BROKEN OR DEFECTIVE WINDOW {w}", False),
    ],
    "C": [
        ("780", "SECTION 27-2029 ADM CODE PROVIDE HEAT TO THE ENTIRE BUILDING {w}", True),
        ("790", "SECTION 27-2031 ADM CODE PROVIDE HOT WATER AT ALL HOURS {w}", True),
        ("569", "SECTION 27-2017.4 HMC: ABATE THE INFESTATION CONSISTING OF ROACHES {w}", False),
        ("583", "SECTION 27-2043.1 HMC: PROVIDE WINDOW GUARDS {w}", False),
        ("616", "SECTION 27-2056.6 ADM CODE: CORRECT THE LEAD-BASED PAINT HAZARD {w}", False),
        ("505", "SECTION 27-2026 ADM CODE REPAIR THE DEFECTIVE GAS SUPPLY LINE {w}", True),
    ],
    "I": [
        ("617", "SECTION 27-2097 ADM CODE FILE A VALID REGISTRATION STATEMENT WITH THE DEPARTMENT", False),
        (
            "772",
            "SECTION 27-2056.7 ADM CODE FILE AN ANNUAL LEAD-BASED PAINT REPORT WITH THE DEPARTMENT",
            False,
        ),
    ],
}
_STORIES_PUBLIC = ["Cellar", "Basement", "Yards / Courts", "All Stories", "Roof", "Fire Escape"]


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    heat = heat_season(batch.months)
    mean_season = 1.0 + 0.45 * np.mean(heat[: min(12, len(heat))]) if len(heat) else 1.0
    c_rate = batch.risk.serious_rate * SERIOUS_SHARES["hpd_c"]
    # Tenants differ in how much they call HPD: a persistent per-building factor on the non-serious classes.
    tenants = rng.lognormal(-0.18, 0.6, size=(len(batch.bldgs), 1))
    base = SERIOUS_BASE * SERIOUS_SHARES["hpd_c"] * batch.risk.activity * batch.months.fraction[None, :] * tenants
    parts = [("C", batch.draw(c_rate))]
    for cls, mix in CLASS_MIX.items():
        parts.append((cls, batch.draw(base * mix * mean_season)))
    b = np.concatenate([ev.b for _, ev in parts])
    day = np.concatenate([ev.day for _, ev in parts])
    month = np.concatenate([ev.cols["month"] for _, ev in parts])
    cls = np.concatenate([np.full(len(ev), c) for c, ev in parts])
    # One inspection a month per building: every violation of the building-month shares its inspection day (the
    # day drawn for the first of them).
    _, first, cell = np.unique(b * batch.months.count + month, return_index=True, return_inverse=True)
    day = day[first][cell]
    order = np.lexsort((cls, day, b))
    b, day, month, cls = b[order], day[order], month[order], cls[order]
    ev = Events(b=b, day=day, cols={"month": month, "class": cls})
    _lifecycle(batch, ev)
    n = len(ev)
    ev.cols["key"] = batch.ids.take(DATASET_ID, n, 10_000_000)
    ev.cols["novid"] = batch.ids.take("novid", n, 4_000_000)
    ev.cols["kind"] = np.char.add("hpd_class_", cls.astype(str))
    ev.cols["serious"] = cls == "C"
    return ev


def _lifecycle(batch: Batch, ev: Events) -> None:
    rng, n = batch.rng, len(ev)
    cls = ev.cols["class"]
    neglect = batch.risk.neglect[ev.b, ev.cols["month"]]
    approved = ev.day + rng.integers(0, 7, size=n)
    nov = approved + rng.integers(1, 5, size=n)
    count = np.zeros(n, dtype=np.int64)
    for c, templates in TEMPLATES.items():
        count[cls == c] = len(templates)
    template = rng.integers(0, count)  # the same draws as one rng.integers(count[i]) per violation
    fast = np.zeros(n, dtype=bool)
    for c, templates in TEMPLATES.items():
        of_class = cls == c
        fast[of_class] = np.array([heat_like for _, _, heat_like in templates])[template[of_class]]
    correct = nov + np.select([cls == "A", cls == "B", fast], [95, 35, 1], default=5)
    certify = correct + np.where(cls == "C", 5, 14)
    is_info = cls == "I"

    # Who certifies and when: by the owner's paperwork habit (citysim/synth/risk.py), rarely in a neglect spell.
    trait = batch.risk.trait[ev.b, ev.cols["month"]]
    paperwork = np.where(neglect, NEGLECT_PAPERWORK, 1.0)
    certifies = rng.random(n) < CERTIFY_SHARE[trait] * paperwork
    certifies &= ~is_info
    cert_day = nov + (rng.random(n) * (certify - nov + 25)).astype(np.int64)
    cert_day = np.where(certifies, cert_day, NEVER)
    late = certifies & (cert_day > certify)
    invalid = certifies & (rng.random(n) < 0.08)
    dismissed = rng.random(n) < 0.12

    t1 = np.full(n, NEVER)
    s1 = np.zeros(n, dtype=np.int64)
    t2 = np.full(n, NEVER)
    s2 = np.zeros(n, dtype=np.int64)
    # Step 1: certification (late ones are flagged at once), else a reinspection after the correct-by date.
    reinspect = (
        np.maximum(correct, approved) + 1 + (rng.exponential(1.0, size=n) * REINSPECT_DAYS[trait]).astype(np.int64)
    )
    t1 = np.where(late, cert_day, reinspect)
    roll = rng.random(n)
    outcome = np.select([roll < 0.45, roll < 0.70, roll < 0.90], [19, 21, 22], default=11)
    s1 = np.where(late, 4, outcome)
    s1 = np.where(certifies & ~late, np.where(invalid, 28, 19), s1)
    t1 = np.where(certifies & ~late, later(rng, cert_day, 45.0), t1)
    # Step 2: what follows no access, invalid or late certification, and not-complied findings.
    t2 = later(rng, t1, 150.0, minimum=20)
    s2 = np.select(
        [s1 == 22, s1 == 28, s1 == 4, s1 == 21],
        [
            np.where(rng.random(n) < 0.5, 23, 19),
            np.full(n, 19),
            np.full(n, 19),
            np.where(rng.random(n) < 0.4, 19, 21),
        ],
        default=0,
    )
    t2 = np.where(s2 > 0, t2, NEVER)
    # A dismissal overrides whatever came after it.
    dismiss_day = later(rng, nov, 300.0)
    t1 = np.where(dismissed & (dismiss_day < t1), dismiss_day, t1)
    s1 = np.where(dismissed & (dismiss_day <= t1), 9, s1)
    t2 = np.where(s1 == 9, NEVER, t2)
    ev.cols.update(
        approved=approved,
        nov=nov,
        correct=correct,
        certify=certify,
        cert_day=np.where(s1 == 9, NEVER, cert_day),
        t1=t1,
        s1=s1,
        t2=t2,
        s2=s2,
        template=template,
        reopen_closed=rng.random(n) < 0.35,  # status 11 is sometimes published as Close
        apartment=rng.random(n) < 0.79,
        apt_no=rng.integers(1, 7, size=n),
        apt_letter=rng.integers(0, 6, size=n),
        public_story=rng.integers(0, 3 * len(_STORIES_PUBLIC), size=n),
        no_story=rng.random(n) < 0.06,
        postponed=(rng.random(n) < 0.02) & ~is_info,
        rent=rng.random(n) < 0.065,
        garbage=rng.random(n),
    )


def change_days(ev: Events) -> list[np.ndarray]:
    c = ev.cols
    return [c["approved"], c["cert_day"], c["t1"], c["t2"]]


def _building(s: BuildingStrings) -> Callable[[int], dict[str, str]]:
    def fields(b: int) -> dict[str, str]:
        return {
            **s.hpd_building(b),
            "latitude": s.lat[b],
            "longitude": s.lon[b],
            "communityboard": s.cb[b],
            "councildistrict": s.council[b],
            "censustract": s.tract[b],
            "nta": s.nta[b],
        }

    return fields


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    """API JSON rows, written as one f-string each: the members in the order the record's fields were defined
    (null fields left out), then the building's members; the same bytes orjson would write for that dict."""
    s, iso = batch.s, batch.fmt.by_day_iso
    building = s.fragments(DATASET_ID, _building(s))
    c = ev.cols
    idx = np.flatnonzero(c["approved"] <= as_of) if select is None else select[c["approved"][select] <= as_of]
    col = {k: c[k][idx].tolist() for k in _ROW_COLUMNS}
    floors, bbls, bins = s.floors, s.bbl, s.bin
    for (
        b, day, key, cls, tpl, apartment, apt_no, apt_letter, public, no_story, postponed,
        approved, nov, correct, certify, cert_day, t1, s1, t2, s2, reopen_closed, novid, rent, g,
    ) in zip(ev.b[idx].tolist(), ev.day[idx].tolist(), *col.values(), strict=True):  # fmt: skip
        is_info = cls == "I"
        order, text, _ = TEMPLATES[cls][tpl]
        if apartment and not is_info:
            floor = min(apt_no, floors[b])
            apt = f',"apartment":"{floor}{"ABCDEF"[apt_letter]}"'
            story = f',"story":"{floor}"'
            where = f"AT APT {floor}{'ABCDEF'[apt_letter]}, {ordinal(floor)} STORY"
        else:
            apt = ""
            story = f',"story":"{_STORIES_PUBLIC[public] if public < len(_STORIES_PUBLIC) else 1 + public % 3}"'
            where = "AT PUBLIC HALL, 1st STORY"
        if no_story:
            story = ""
        status, status_day = (27, approved) if is_info else (2, nov)
        if t1 <= as_of:
            status, status_day = s1, t1
            if t2 <= as_of:
                status, status_day = s2, t2
        closed = status in CLOSED_IDS or (status == 11 and reopen_closed)
        if cls != "C" and g < 0.001:
            place = f',"bin":"{bins[b]}","bbl":"0"'  # real rows with BBL "0" (1 in 1000 in the API sample)
        elif cls != "C" and g < 0.002:
            place = ""  # and rows without bin/bbl
        else:
            place = f',"bin":"{bins[b]}","bbl":"{bbls[b]}"'
        if is_info:
            nov_dates, nov_id, nov_issued, nov_type = "", "", "", ""
        else:
            nov_dates = f',"originalcertifybydate":"{iso[certify]}","originalcorrectbydate":"{iso[correct]}"'
            nov_id = f',"novid":"{novid}"'
            nov_issued = f',"novissueddate":"{iso[nov]}"'
            nov_type = ',"novtype":"Original"'
        yield (
            f'{{"violationid":"{key}"{apt}{story},"class":"{cls}","inspectiondate":"{iso[day]}",'
            f'"approveddate":"{iso[approved]}"{nov_dates}'
            + (
                f',"newcertifybydate":"{iso[certify + 30]}","newcorrectbydate":"{iso[correct + 30]}"'
                if postponed
                else ""
            )
            + (f',"certifieddate":"{iso[cert_day]}"' if cert_day <= as_of else "")
            + f',"ordernumber":"{order}"{nov_id},"novdescription":"{text.format(w=where)}"{nov_issued}'
            f',"currentstatusid":"{status}","currentstatus":"{STATUS[status]}",'
            f'"currentstatusdate":"{iso[status_day]}"{nov_type},"violationstatus":"{"Close" if closed else "Open"}",'
            f'"rentimpairing":"{"Y" if rent else "N"}"{place},{building[b]}}}'
        ).encode()


# The event columns rows() reads, in the order of its loop variables.
_ROW_COLUMNS = (
    "key",
    "class",
    "template",
    "apartment",
    "apt_no",
    "apt_letter",
    "public_story",
    "no_story",
    "postponed",
    "approved",
    "nov",
    "correct",
    "certify",
    "cert_day",
    "t1",
    "s1",
    "t2",
    "s2",
    "reopen_closed",
    "novid",
    "rent",
    "garbage",
)
plain(*STATUS.values(), *_STORIES_PUBLIC, *(t.format(w="") for ts in TEMPLATES.values() for _, t, _ in ts))
