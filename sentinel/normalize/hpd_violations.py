"""HPD Housing Maintenance Code Violations (wvxf-dwi5) -> violations (source HPD)."""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ViolationRow
from sentinel.text import clean

SEVERITY_BY_CLASS = {
    "A": "non_hazardous",
    "B": "hazardous",
    "C": "immediately_hazardous",
    "I": "info",  # information orders (e.g. lead paint, heat sensors): no correction deadline
}
# `violationstatus` is exactly "Open"/"Close". `currentstatus` is the workflow state and is ambiguous
# (status 11 "VIOLATION WILL BE REINSPECTED" appears both open and closed), so it is only status_raw.
STATUS = {"OPEN": "open", "CLOSE": "closed", "CLOSED": "closed"}


def normalize(raw: dict[str, Any]) -> ViolationRow:
    source_id = required_key(raw, "violationid")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(
        warnings,
        bbl=g("bbl"),
        borough=g("boroid") or g("boro"),
        block=g("block"),
        lot=g("lot"),
        bin_=g("bin"),
    )
    require_location(bbl, bin_, warnings)

    klass = clean(g("class"))
    if klass is not None:
        klass = klass.upper()
    severity = SEVERITY_BY_CLASS.get(klass, "unknown") if klass else "unknown"
    if severity == "unknown":
        warnings.append(f"class: unknown {klass!r}")

    status_text = clean(g("violationstatus"))
    status = STATUS.get(status_text.upper()) if status_text else None
    if status is None:
        # Unknown status stays open: an alert on a closed violation costs less than a missed open one.
        warnings.append(f"violationstatus: unknown {status_text!r}, assumed open")
        status = "open"

    issued = to_date(g("novissueddate"), "novissueddate", warnings)
    if issued is None:
        issued = to_date(g("inspectiondate"), "inspectiondate", warnings)
    certify_by = to_date(g("newcertifybydate"), "newcertifybydate", warnings) or to_date(
        g("originalcertifybydate"), "originalcertifybydate", warnings
    )
    correct_by = to_date(g("newcorrectbydate"), "newcorrectbydate", warnings) or to_date(
        g("originalcorrectbydate"), "originalcorrectbydate", warnings
    )
    return ViolationRow(
        source="HPD",
        source_id=source_id,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        violation_class=klass,
        severity=severity,
        category=clean(g("ordernumber")),
        description=clean(g("novdescription")),
        status=status,
        status_raw=clean(g("currentstatus")) or status_text,
        issued_date=issued,
        status_date=to_date(g("currentstatusdate"), "currentstatusdate", warnings),
        certify_by_date=certify_by,
        correct_by_date=correct_by,
        certified_date=to_date(g("certifieddate"), "certifieddate", warnings),
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
