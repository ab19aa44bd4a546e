"""Every real NYC sample loads into the replay server and comes back value for value."""

from __future__ import annotations

from pathlib import Path

from sodapy import Socrata

from citysim.replay.formats import read_dataset_file

EXPECTED_DATASETS = {
    "wvxf-dwi5", "3h2n-5cm9", "855j-jady", "6bgk-3dad", "ygpa-z7cr", "eabe-havv",
    "erm2-nwe9", "64uk-42ks", "tesw-yqqr", "feu5-w2e2", "tb8q-a3ar",
}  # fmt: skip


def test_every_served_dataset_has_real_samples(realdata_sources: dict[str, list[Path]]) -> None:
    assert set(realdata_sources) == EXPECTED_DATASETS


def test_every_real_file_is_served_back_value_for_value(
    realdata_sources: dict[str, list[Path]], client: Socrata
) -> None:
    for dataset_id, paths in realdata_sources.items():
        expected = [row for p in paths for row in read_dataset_file(p, dataset_id)]
        # Without $order the server keeps load order, so the files' rows come back in sequence.
        served = client.get(dataset_id, limit=len(expected) + 10)
        assert len(served) == len(expected), dataset_id
        for i, (got, want) in enumerate(zip(served, expected, strict=True)):
            assert got == want, f"{dataset_id} row {i}"


def test_known_real_values_survive_the_round_trip(client: Socrata) -> None:
    dob = client.get("3h2n-5cm9", isn_dob_bis_viol="2286033")
    assert dob[0]["lot"] == "00019" and dob[0]["issue_date"] == "20180507"  # padding and text dates kept
    padded = client.get("eabe-havv", where="complaint_number = '4483428'")
    assert padded[0]["house_number"] == "10          "  # DOB's space padding is data, not noise
    vacate = client.get("tb8q-a3ar", select="vacate_effective_date", where="vacate_order_number = '100282'")
    assert vacate == [{"vacate_effective_date": "2012-11-23T00:00:00.000"}]
    sr = client.get("erm2-nwe9", unique_key="64446107", select="location, created_date")
    assert sr == [
        {
            "location": {"type": "Point", "coordinates": [-73.94188882855283, 40.625990681603746]},
            "created_date": "2025-03-24T23:33:07.000",
        }
    ]
    pluto = client.get("64uk-42ks", select="lotarea, splitzone", where="version = '26v1'")
    assert pluto[0] == {"lotarea": "1700", "splitzone": False}
