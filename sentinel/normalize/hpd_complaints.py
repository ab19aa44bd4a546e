"""HPD Housing Maintenance Code Complaints and Problems (ygpa-z7cr) -> complaints (source HPD).

One row per problem (source_id = problem_id); complaint_id groups the problems of one complaint.
`problem_duplicate_flag = 'Y'` marks duplicate problems: kept, flagged, and left out of counts downstream.
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ComplaintRow
from sentinel.text import clean

STATUS = {"OPEN": "open", "CLOSE": "closed", "CLOSED": "closed"}


def normalize(raw: dict[str, Any]) -> ComplaintRow:
    source_id = required_key(raw, "problem_id")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(
        warnings, bbl=g("bbl"), borough=g("borough"), block=g("block"), lot=g("lot"), bin_=g("bin")
    )
    require_location(bbl, bin_, warnings)
    # The problem's own status first: a complaint stays open while any of its problems is open.
    status_raw = clean(g("problem_status")) or clean(g("complaint_status"))
    status = STATUS.get(status_raw.upper()) if status_raw else None
    if status is None:
        warnings.append(f"problem_status: unknown {status_raw!r}, assumed open")
        status = "open"
    status_date = to_date(g("problem_status_date"), "problem_status_date", warnings)
    duplicate = clean(g("problem_duplicate_flag"))
    return ComplaintRow(
        source="HPD",
        source_id=source_id,
        complaint_id=clean(g("complaint_id")),
        bbl=bbl,
        bin=bin_,
        borough=borough,
        category=clean(g("major_category")),
        subcategory=clean(g("minor_category")),
        priority=clean(g("type")),
        status=status,
        status_raw=status_raw,
        received_date=to_date(g("received_date"), "received_date", warnings),
        status_date=status_date,
        closed_date=status_date if status == "closed" else None,
        is_duplicate=duplicate is not None and duplicate.upper() == "Y",
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
