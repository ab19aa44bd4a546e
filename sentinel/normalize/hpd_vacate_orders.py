"""HPD Order to Repair/Vacate Orders (tb8q-a3ar) -> violations (source HPD_VACATE, immediately hazardous).

A vacate order has no status column: it is open until it is rescinded (`actual_rescind_date`).
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ViolationRow
from sentinel.text import clean


def normalize(raw: dict[str, Any]) -> ViolationRow:
    source_id = required_key(raw, "vacate_order_number")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(warnings, bbl=g("bbl"), borough=g("boro_short_name"), bin_=g("bin"))
    require_location(bbl, bin_, warnings, keys="bbl or bin")
    rescinded = to_date(g("actual_rescind_date") or g("rescind_date"), "actual_rescind_date", warnings)
    vacate_type = clean(g("vacate_type"))
    reason = clean(g("primary_vacate_reason"))
    units = clean(g("number_of_vacated_units"))
    description = ", ".join(
        part
        for part in (
            f"{vacate_type} vacate" if vacate_type else None,
            reason,
            f"{units} units" if units else None,
        )
        if part
    )
    return ViolationRow(
        source="HPD_VACATE",
        source_id=source_id,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        violation_class=vacate_type,
        severity="immediately_hazardous",
        category=reason,
        description=description or None,
        status="closed" if rescinded else "open",
        status_raw=None,  # the source has no status text of its own
        issued_date=to_date(g("vacate_effective_date"), "vacate_effective_date", warnings),
        status_date=rescinded,
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
