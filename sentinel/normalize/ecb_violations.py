"""DOB ECB Violations (6bgk-3dad) -> violations (source ECB).

Severity: the old scheme says "Hazardous"/"Non-Hazardous"; newer rows say "CLASS - 1/2/3", DOB's penalty
classes (1 RCNY 102-01): Class 1 = immediately hazardous, Class 2 = major, Class 3 = lesser.
Decision: Class 1 -> immediately_hazardous, "Hazardous" -> hazardous, Class 2/3 and "Non-Hazardous" ->
non_hazardous (Class 2 is "major" but not called hazardous by DOB; `class` keeps the source text, so
features can still tell them apart).
Status: ACTIVE -> open, RESOLVE (sic) -> closed. PENDING hearings already carry penalty amounts.
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.money import flag_negative, to_money
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ViolationRow
from sentinel.text import clean, clean_spaces

SEVERITY = {
    "HAZARDOUS": "hazardous",
    "NON-HAZARDOUS": "non_hazardous",
    "NON HAZARDOUS": "non_hazardous",
    "CLASS - 1": "immediately_hazardous",
    "CLASS - 2": "non_hazardous",
    "CLASS - 3": "non_hazardous",
    "UNKNOWN": "unknown",
}
STATUS = {"ACTIVE": "open", "RESOLVE": "closed", "RESOLVED": "closed"}


def normalize(raw: dict[str, Any]) -> ViolationRow:
    source_id = required_key(raw, "ecb_violation_number")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(
        warnings, borough=clean(g("boro")), block=clean(g("block")), lot=clean(g("lot")), bin_=g("bin")
    )
    require_location(bbl, bin_, warnings)
    klass = clean_spaces(g("severity"))
    severity = SEVERITY.get(klass.upper(), "unknown") if klass else "unknown"
    if severity == "unknown" and klass and klass.upper() != "UNKNOWN":
        warnings.append(f"severity: unknown {klass!r}")
    status_raw = clean(g("ecb_violation_status"))
    status = STATUS.get(status_raw.upper()) if status_raw else None
    if status is None:
        warnings.append(f"ecb_violation_status: unknown {status_raw!r}, assumed open")
        status = "open"
    return ViolationRow(
        source="ECB",
        source_id=source_id,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        violation_class=klass,
        severity=severity,
        category=clean(g("violation_type")),
        description=clean_spaces(g("violation_description")),
        status=status,
        status_raw=status_raw,
        issued_date=to_date(g("issue_date"), "issue_date", warnings),
        hearing_date=to_date(g("hearing_date"), "hearing_date", warnings),
        # [sic] "penality" in the source; a negative balance is a credit, a negative penalty or payment is not.
        penalty_imposed=flag_negative(
            to_money(g("penality_imposed"), "penality_imposed", warnings), "penality_imposed", warnings
        ),
        amount_paid=flag_negative(to_money(g("amount_paid"), "amount_paid", warnings), "amount_paid", warnings),
        balance_due=to_money(g("balance_due"), "balance_due", warnings),
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
