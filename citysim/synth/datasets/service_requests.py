"""311 Service Requests (erm2-nwe9): every HPD complaint (same `unique_key` as ygpa-z7cr) and every DOB complaint
repeated as a 311 request, plus requests to other agencies (noise, sanitation, water) that say little about the
building's condition. ISO timestamps with a time of day; `location` is a GeoJSON point as the API returns it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from citysim.synth.context import Batch, BuildingStrings, Events
from citysim.synth.datasets import dob_complaints, hpd_complaints
from citysim.synth.datasets.common import later, plain
from citysim.synth.dates import CLOCK

DATASET_ID = "erm2-nwe9"
OTHER_RATE = 0.02

AGENCY_NAMES = {
    "HPD": "Department of Housing Preservation and Development",
    "DOB": "Department of Buildings",
    "NYPD": "New York City Police Department",
    "DSNY": "Department of Sanitation",
    "DEP": "Department of Environmental Protection",
}
# (agency, complaint type, descriptor, location type)
OTHER = [
    ("NYPD", "Noise - Residential", "Loud Music/Party", "Residential Building/House"),
    ("NYPD", "Illegal Parking", "Blocked Hydrant", "Street/Sidewalk"),
    ("DSNY", "Dirty Condition", "Trash", "Sidewalk"),
    ("DEP", "Water System", "Hydrant Leaking (WC1)", None),
]
SOURCE_HPD, SOURCE_DOB, SOURCE_OTHER = 0, 1, 2
CHANNELS = ("ONLINE", "PHONE", "MOBILE", "UNKNOWN")
_RESOLVED = "The Department reviewed your request and took the action it deemed appropriate."
CITY = {"1": "NEW YORK", "2": "BRONX", "3": "BROOKLYN", "4": "JAMAICA", "5": "STATEN ISLAND"}


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    hpd = prior[hpd_complaints.DATASET_ID]
    first = np.flatnonzero(hpd.cols["first"])
    dob = prior[dob_complaints.DATASET_ID]
    other = batch.draw(OTHER_RATE * np.sqrt(batch.bldgs.units)[:, None] * batch.months.fraction[None, :])
    n_h, n_d, n_o = len(first), len(dob), len(other)
    n = n_h + n_d + n_o
    source = np.r_[np.full(n_h, SOURCE_HPD), np.full(n_d, SOURCE_DOB), np.full(n_o, SOURCE_OTHER)]
    day = np.r_[hpd.day[first], dob.day, other.day]
    other_close = later(rng, other.day, 3.0, minimum=0)
    keys = np.r_[hpd.cols["unique_key"][first], batch.ids.take("311", n_d + n_o, 50_000_000)]
    return Events(
        b=np.r_[hpd.b[first], dob.b, other.b],
        day=day,
        cols={
            "key": keys,
            "kind": np.array(["311_hpd", "311_dob", "311_other"])[source],
            "serious": np.zeros(n, dtype=bool),
            "source": source,
            "close": np.r_[hpd.cols["close"][first], dob.cols["disposition"], other_close],
            "category": np.r_[hpd.cols["category"][first], dob.cols["category"], rng.integers(0, len(OTHER), n_o)],
            "seconds": rng.integers(0, 86_400, size=n),
            "close_seconds": rng.integers(0, 86_400, size=n),
            "channel": rng.integers(0, len(CHANNELS), size=n),
            "no_bbl": rng.random(n) < 0.02,
        },
    )


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["close"]]


def _building(s: BuildingStrings) -> Callable[[int], dict[str, object]]:
    def fields(b: int) -> dict[str, object]:
        lat, lon = s.lat_f[b], s.lon_f[b]
        return {
            "incident_zip": s.zip[b],
            "incident_address": f"{s.house[b]} {s.street[b]}",
            "street_name": s.street[b],
            "address_type": "ADDRESS",
            "city": CITY[s.boroid[b]],
            "community_board": s.cb311[b],
            "council_district": s.council[b],
            "police_precinct": f"Precinct {s.cb3[b]}",
            "borough": s.boro_name[b],
            "x_coordinate_state_plane": str(int(990_000 + (lon + 73.97) * 277_000)),
            "y_coordinate_state_plane": str(int(230_000 + (lat - 40.80) * 364_000)),
            "park_facility_name": "Unspecified",
            "park_borough": s.boro_name[b],
            "latitude": f"{lat:.14f}",
            "longitude": f"{lon:.14f}",
            "location": {"type": "Point", "coordinates": [round(lon, 8), round(lat, 8)]},
        }

    return fields


def _what(agency: str, ctype: str, descriptor: str, location_type: str | None) -> str:
    """The members from agency to location_type as they stand in a row."""
    plain(agency, AGENCY_NAMES[agency], ctype, descriptor, *([location_type] if location_type else []))
    location = f',"location_type":"{location_type}"' if location_type else ""
    return (
        f',"agency":"{agency}","agency_name":"{AGENCY_NAMES[agency]}","complaint_type":"{ctype}",'
        f'"descriptor":"{descriptor}"{location}'
    )


# Per source, per category: what the request is about, and how a closed one was resolved.
_WHAT = {
    SOURCE_HPD: [_what("HPD", major, minor, "RESIDENTIAL BUILDING") for major, minor, *_ in hpd_complaints.CATALOG],
    SOURCE_DOB: [_what("DOB", ctype, descriptor, None) for _, _, ctype, descriptor in dob_complaints.CATEGORIES],
    SOURCE_OTHER: [_what(*entry) for entry in OTHER],
}
_RESOLUTION = {SOURCE_HPD: hpd_complaints.OUTCOMES[1], SOURCE_DOB: _RESOLVED, SOURCE_OTHER: _RESOLVED}
plain(*CHANNELS, *_RESOLUTION.values())


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    """API JSON rows, one f-string each: the same bytes orjson would write for the record's fields in this order
    (null fields left out) followed by the building's."""
    s, fmt = batch.s, batch.fmt
    day_date, clock = fmt.by_day_date, CLOCK
    building = s.fragments(DATASET_ID, _building(s))
    bbl = [f',"bbl":"{x}"' for x in s.bbl]
    idx = ev.published_index(as_of, select)
    col = [ev.cols[k][idx].tolist() for k in _ROW_COLUMNS]
    for b, day, key, src, category, close_day, seconds, close_seconds, channel, no_bbl in zip(
        ev.b[idx].tolist(), ev.day[idx].tolist(), *col, strict=True
    ):
        created = f"{day_date[day]}T{clock[seconds]}.000"
        if close_day > as_of:
            closing = ',"status":"Open"'
        else:
            if close_day == day and close_seconds < seconds:
                closed_at = created  # 311 has many zero-duration requests; never closed before created here
            else:
                closed_at = f"{day_date[close_day]}T{clock[close_seconds]}.000"
            closing = (
                f',"status":"Closed","resolution_description":"{_RESOLUTION[src]}",'
                f'"resolution_action_updated_date":"{day_date[close_day]}T00:00:00.000"'
            )
            created = f'{created}","closed_date":"{closed_at}'
        yield (
            f'{{"unique_key":"{key}","created_date":"{created}"{_WHAT[src][category]}{closing}'
            f'{"" if no_bbl else bbl[b]},"open_data_channel_type":"{CHANNELS[channel]}",'
            f"{building[b]}}}"
        ).encode()


# The event columns rows() reads, in the order of its loop variables.
_ROW_COLUMNS = ("key", "source", "category", "close", "seconds", "close_seconds", "channel", "no_bbl")
