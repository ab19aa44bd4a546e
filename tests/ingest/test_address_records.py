"""311 requests without a BBL (the 2013 layout has no `bbl` column at all) land with BBLs from their addresses or
coordinates, resolved against PLUTO lots; `bbl_source` says how; a request with nothing to locate it by is
rejected saying exactly what was missing.

The 2013-layout file is built here from the real 311 export (shared/realdata, 2025) re-laid in the 52 columns
the portal exported in 2013 (NYC_DATA.md 3.7; display names from the 2018 catalog snapshot of erm2-nwe9), BBL
column dropped. The PLUTO lots are derived from the same real rows (their BBL, address in PLUTO's spacing and
point), so every resolved BBL can be checked against the one the city itself assigned.
"""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import psycopg
import pytest

from citysim.replay.server import serve_in_background
from sentinel.bbl import BOROUGH_SHORT
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource

pytestmark = pytest.mark.integration

LAYOUT_2013 = [
    "Unique Key", "Created Date", "Closed Date", "Agency", "Agency Name", "Complaint Type", "Descriptor",
    "Location Type", "Incident Zip", "Incident Address", "Street Name", "Cross Street 1", "Cross Street 2",
    "Intersection Street 1", "Intersection Street 2", "Address Type", "City", "Landmark", "Facility Type", "Status",
    "Due Date", "Resolution Description", "Resolution Action Updated Date", "Community Board", "Borough",
    "X Coordinate (State Plane)", "Y Coordinate (State Plane)", "Park Facility Name", "Park Borough", "School Name",
    "School Number", "School Region", "School Code", "School Phone Number", "School Address", "School City",
    "School State", "School Zip", "School Not Found", "School or Citywide Complaint", "Vehicle Type",
    "Taxi Company Borough", "Taxi Pick Up Location", "Bridge Highway Name", "Bridge Highway Direction", "Road Ramp",
    "Bridge Highway Segment", "Garage Lot Name", "Ferry Direction", "Ferry Terminal Name", "Latitude", "Longitude",
    "Location",
]  # fmt: skip
SCHOOL_DEFAULTS = {name: "Unspecified" for name in LAYOUT_2013 if name.startswith("School")} | {"School Not Found": "N"}


def build_2013_layout(realdata: Path, out: Path) -> tuple[Path, Path, dict[str, str], dict[str, str]]:
    """(311 file, PLUTO file, expected bbl by unique key, how each should be located)."""
    with (realdata / "service_requests_311/somaiyahhafeez-newyork/311.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Agency"] in ("HPD", "DOB") and r["BBL"]]
    expected, how, lots = {}, {}, {}
    with (out / "311_2013.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, LAYOUT_2013)
        writer.writeheader()
        for i, r in enumerate(rows):
            row = {name: r.get(name, "") for name in LAYOUT_2013} | SCHOOL_DEFAULTS
            key = r["Unique Key"]
            expected[key] = r["BBL"]
            how[key] = "address"
            if i % 4 == 1:  # an intersection-style request: no address, only its point
                row["Incident Address"] = row["Street Name"] = ""
                how[key] = "coordinates"
            elif i % 4 == 2:  # only the Location column left (the older portal's point)
                row["Incident Address"] = row["Street Name"] = row["Latitude"] = row["Longitude"] = ""
                how[key] = "coordinates"
            writer.writerow(row)
            lots[r["BBL"]] = {
                "bbl": r["BBL"], "borough": BOROUGH_SHORT[int(r["BBL"][0])], "borocode": r["BBL"][0],
                "block": str(int(r["BBL"][1:6])), "lot": str(int(r["BBL"][6:])),
                "address": " ".join(r["Incident Address"].split()), "zipcode": r["Incident Zip"],
                "latitude": r["Latitude"], "longitude": r["Longitude"], "version": "derived",
            }  # fmt: skip
        lost = {name: "" for name in LAYOUT_2013} | {
            "Unique Key": "99000001", "Agency": "HPD", "Created Date": "01/15/2013 09:00:00 AM", "Status": "Open",
            "Incident Address": "BROADWAY", "Borough": "Unspecified",
        }  # fmt: skip
        writer.writerow(lost)
    (out / "pluto.json").write_bytes(orjson.dumps(list(lots.values())))
    return out / "311_2013.csv", out / "pluto.json", expected, how


def test_311_rows_in_the_2013_layout_land_with_bbls_from_their_addresses_or_coordinates(fresh_db, realdata, tmp_path):
    requests, pluto, expected, how = build_2013_layout(realdata, tmp_path)
    assert len(expected) > 50
    with serve_in_background(sources={"erm2-nwe9": [requests], "64uk-42ks": [pluto]}) as server:
        # 311 first: requests that arrive before their lots are kept unresolved, then resolved when PLUTO lands.
        options = RunOptions(["service_requests_311"], incremental=False, page_size=300)
        _, (first,) = run_serial(fresh_db, SocrataSource(server.url), options)
        assert first.rejected == 1 and first.error is None
        assert first.located == {"unresolved": len(expected)}
        _, (lots,) = run_serial(fresh_db, SocrataSource(server.url), RunOptions(["pluto"], incremental=False))
        assert lots.located == {"address": sum(1 for h in how.values() if h == "address"),
                                "coordinates": sum(1 for h in how.values() if h == "coordinates")}  # fmt: skip
    with psycopg.connect(fresh_db) as conn:
        stored = {
            key: (bbl, source)
            for key, bbl, source in conn.execute(
                "SELECT source_id, bbl, bbl_source FROM complaints WHERE source = '311'"
            )
        }
        reason = conn.execute("SELECT reason FROM rejects WHERE source_key = '99000001'").fetchone()[0]
    assert stored == {key: (bbl, how[key]) for key, bbl in expected.items()}
    assert reason == (
        "no usable location: no bbl, incident_address 'BROADWAY' has no house number, no latitude/longitude or location"
    )
