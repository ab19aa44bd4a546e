"""DOB Safety Violations, DOB NOW (855j-jady) -> violations (source DOB_SAFETY).

Some violations appear in both this dataset and 3h2n-5cm9 (NYC_DATA §5.3); they are kept under their own
source and linked by the violation number, not merged here.
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.dob_codes import dob_severity
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ViolationRow
from sentinel.text import clean, clean_spaces

# "Paid  - Pending Dismissal" comes with two spaces; compared after collapsing whitespace and upper-casing.
# Pending dismissals are closed for the owner: paid or cured, nothing left to do.
OPEN_STATUSES = frozenset({"ACTIVE"})
CLOSED_STATUSES = frozenset(
    {
        "DISMISSED", "DISPUTED SUCCESSFULLY", "WAIVED - PENDING DISMISSAL", "PENDING DISMISSAL", "CURED",
        "PAID - PENDING DISMISSAL", "RESOLVED", "WAIVED",
    }
)  # fmt: skip


def normalize(raw: dict[str, Any]) -> ViolationRow:
    source_id = required_key(raw, "violation_number")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(
        warnings, bbl=g("bbl"), borough=g("borough"), block=g("block"), lot=g("lot"), bin_=g("bin")
    )
    require_location(bbl, bin_, warnings)
    vtype = clean(g("violation_type"))
    severity = dob_severity(vtype)
    if severity == "unknown":
        warnings.append(f"violation_type: unclassified {vtype!r}")
    status_raw = clean_spaces(g("violation_status"))
    key = status_raw.upper() if status_raw else ""
    if key in OPEN_STATUSES:
        status = "open"
    elif key in CLOSED_STATUSES:
        status = "closed"
    else:
        warnings.append(f"violation_status: unknown {status_raw!r}, assumed open")
        status = "open"
    return ViolationRow(
        source="DOB_SAFETY",
        source_id=source_id,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        violation_class=vtype,
        severity=severity,
        category=clean(g("device_type")),
        description=clean(g("violation_remarks")),
        status=status,
        status_raw=status_raw,
        issued_date=to_date(g("violation_issue_date"), "violation_issue_date", warnings),
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
