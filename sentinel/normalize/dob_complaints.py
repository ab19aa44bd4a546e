"""DOB Complaints Received (eabe-havv) -> complaints (source DOB).

Only a BIN locates the building (no BBL, no borough column): the borough is the first digit of
complaint_number (or of the BIN). Dates are MM/DD/YYYY text. The dataset is replaced in full every day and
`dobrundate` is the date of that export, so it is left out of the content hash: otherwise every row would
look changed every day.
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import require_location, resolve_location
from sentinel.normalize.outcome import required_key
from sentinel.records import ComplaintRow
from sentinel.text import clean

HASH_EXCLUDE = frozenset({"dobrundate"})
STATUS = {"ACTIVE": "open", "CLOSED": "closed", "CLOSE": "closed", "OPEN": "open"}


def normalize(raw: dict[str, Any]) -> ComplaintRow:
    number = required_key(raw, "complaint_number")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(warnings, borough=number[0] if number[0] in "12345" else None, bin_=g("bin"))
    require_location(bbl, bin_, warnings, keys="bin")
    status_raw = clean(g("status"))
    status = STATUS.get(status_raw.upper()) if status_raw else None
    if status is None:
        warnings.append(f"status: unknown {status_raw!r}, assumed open")
        status = "open"
    disposition = to_date(g("disposition_date"), "disposition_date", warnings)
    return ComplaintRow(
        source="DOB",
        source_id=number,
        complaint_id=number,
        bbl=bbl,
        bin=bin_,
        borough=borough,
        category=clean(g("complaint_category")),
        # The DOB unit that handles it (ELEVR, BOILR, SCFLD...): the closest thing to a kind the dataset has.
        subcategory=clean(g("unit")),
        priority=None,
        status=status,
        status_raw=status_raw,
        received_date=to_date(g("date_entered"), "date_entered", warnings),
        status_date=disposition or to_date(g("inspection_date"), "inspection_date", warnings),
        closed_date=disposition if status == "closed" else None,
        is_duplicate=False,
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw, HASH_EXCLUDE),
        warnings=warnings,
    )
