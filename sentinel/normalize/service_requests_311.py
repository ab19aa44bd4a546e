"""311 Service Requests (erm2-nwe9) -> complaints (source 311), HPD and DOB agencies only.

Other agencies are skipped (SkipRecord), not rejected: they are valid requests this product does not track.
The fetcher already filters `agency in ('HPD','DOB')`; the skip is the guard for unfiltered pages.
311 spells missing values every way ("", "N/A", "<NA>", "Unspecified"); `bbl` is null on intersection and
blockface addresses and lot-level only, and the 2013 layout (52 columns, School_*/Ferry/Garage columns) has no
`bbl` at all. 311 never carries block/lot: a request without a BBL is kept with its normalized address
(sentinel/address.py) and its coordinates, which the writer resolves against PLUTO lots (sentinel/ingest/
locate.py); only a request with none of the three is rejected, saying which were missing.
"""

from __future__ import annotations

from typing import Any

from sentinel.address import parse_address
from sentinel.bbl import borough_code
from sentinel.dates import to_date, to_timestamp
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import coordinates, resolve_location
from sentinel.normalize.outcome import RejectRecord, SkipRecord, required_key
from sentinel.records import ComplaintRow
from sentinel.text import UNSPECIFIED_NULLS, clean

AGENCIES = frozenset({"HPD", "DOB"})
CLOSED = frozenset({"CLOSED"})
OPEN = frozenset({"OPEN", "IN PROGRESS", "ASSIGNED", "PENDING", "STARTED", "DRAFT"})


def normalize(raw: dict[str, Any]) -> ComplaintRow:
    agency = clean(raw.get("agency"))
    if agency is None or agency.upper() not in AGENCIES:
        raise SkipRecord(f"agency {agency!r} is not tracked")
    source_id = required_key(raw, "unique_key")
    warnings: list[str] = []
    g = raw.get
    bbl, bin_, borough = resolve_location(
        warnings, bbl=clean(g("bbl"), UNSPECIFIED_NULLS), borough=clean(g("borough"), UNSPECIFIED_NULLS)
    )
    located_by: str | None = None
    latitude = longitude = None
    if bbl is None:
        address = clean(g("incident_address"), UNSPECIFIED_NULLS)
        parsed = parse_address(address)
        located_by = parsed.key if parsed is not None and parsed.house else None
        latitude, longitude = coordinates(raw, warnings)
        if located_by is None and latitude is None:
            raise RejectRecord("no usable location: " + _missing(raw, address, warnings))
        if borough is None and parsed is not None:
            borough = parsed.borough or borough_code(clean(g("park_borough"), UNSPECIFIED_NULLS))
    status_raw = clean(g("status"), UNSPECIFIED_NULLS)
    key = status_raw.upper() if status_raw else ""
    closed_date = to_date(g("closed_date"), "closed_date", warnings)
    if key in CLOSED:
        status = "closed"
    elif key in OPEN:
        status = "open"
    else:
        # "Unspecified" or a new word: a closed_date is the best evidence left.
        status = "closed" if closed_date else "open"
        warnings.append(f"status: unknown {status_raw!r}, taken as {status}")
    return ComplaintRow(
        source="311",
        source_id=source_id,
        complaint_id=source_id,  # equals ygpa-z7cr's unique_key for HPD rows: the link between the two
        bbl=bbl,
        bin=bin_,
        borough=borough,
        category=clean(g("complaint_type")),
        subcategory=clean(g("descriptor"), UNSPECIFIED_NULLS),
        priority=None,
        status=status,
        status_raw=status_raw,
        received_date=to_date(g("created_date"), "created_date", warnings),
        status_date=to_date(g("resolution_action_updated_date"), "resolution_action_updated_date", warnings),
        closed_date=closed_date if status == "closed" else None,
        is_duplicate=False,
        source_updated_at=to_timestamp(g(":updated_at"), ":updated_at", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
        address_key=located_by,
        latitude=latitude,
        longitude=longitude,
    )


def _missing(raw: dict[str, Any], address: str | None, warnings: list[str]) -> str:
    parts = ["no bbl" if "bbl" not in raw else f"bbl {raw['bbl']!r} unusable"]
    if address is None:
        parts.append("no incident_address")
    else:
        parts.append(f"incident_address {address!r} has no house number")
    bad_point = [w for w in warnings if w.startswith(("latitude:", "longitude:", "location:"))]
    parts.append("; ".join(bad_point) if bad_point else "no latitude/longitude or location")
    return ", ".join(parts)
