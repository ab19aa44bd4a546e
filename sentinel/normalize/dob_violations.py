"""DOB Violations, BIS (3h2n-5cm9) -> violations (source DOB).

No BBL column: it is derived from boro + block (5, zero-padded) + lot (5 chars with a leading extra digit,
sometimes 4). Active vs resolved is the `*` in violation_category ("V*-DOB VIOLATION - Resolved").
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.dob_codes import dob_severity
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import RejectRecord, required_key
from sentinel.records import ViolationRow
from sentinel.text import clean, first_segment


def _status(category: str | None, number: str | None) -> str | None:
    # The prefix before "-" is V, V*, VW*, VP*, V%*, ...: a star anywhere in it means resolved or dismissed.
    for text in (category, number):
        if text:
            prefix = text.split("-", 1)[0] if "-" in text else text[:3]
            return "closed" if "*" in prefix else "open"
    return None


def normalize(raw: dict[str, Any]) -> ViolationRow:
    source_id = required_key(raw, "isn_dob_bis_viol")
    g = raw.get
    # 3h2n-5cm9 carries a publisher test row (house_number "TEST", street "RECORD", block/lot 99999).
    if clean(g("house_number")) == "TEST" and clean(g("street")) == "RECORD":
        raise RejectRecord("publisher test record (house_number TEST, street RECORD)")
    warnings: list[str] = []
    bbl, bin_, borough = resolve_location(
        warnings, borough=clean(g("boro")), block=clean(g("block")), lot=clean(g("lot")), bin_=g("bin")
    )
    require_location(bbl, bin_, warnings)
    code = clean(g("violation_type_code"))
    severity = dob_severity(code)
    if severity == "unknown":
        warnings.append(f"violation_type_code: unclassified {code!r}")
    category_raw = clean(g("violation_category"))
    status = _status(category_raw, clean(g("number")))
    if status is None:
        warnings.append("violation_category: missing, assumed open")
        status = "open"
    return ViolationRow(
        source="DOB",
        source_id=source_id,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        violation_class=code,
        severity=severity,
        category=first_segment(g("violation_type")),
        description=clean(g("description")) or clean(g("disposition_comments")),
        status=status,
        status_raw=category_raw,
        issued_date=to_date(g("issue_date"), "issue_date", warnings),
        status_date=to_date(g("disposition_date"), "disposition_date", warnings),
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
