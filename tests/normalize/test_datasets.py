from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.normalize import normalizer_for
from sentinel.records import ROW_TYPES

EXPECTED = {
    "hpd_violations": "wvxf-dwi5",
    "dob_violations": "3h2n-5cm9",
    "dob_safety_violations": "855j-jady",
    "ecb_violations": "6bgk-3dad",
    "hpd_vacate_orders": "tb8q-a3ar",
    "hpd_complaints": "ygpa-z7cr",
    "dob_complaints": "eabe-havv",
    "service_requests_311": "erm2-nwe9",
    "pluto": "64uk-42ks",
    "hpd_registrations": "tesw-yqqr",
    "hpd_registration_contacts": "feu5-w2e2",
}


def test_every_dataset_is_configured_with_its_socrata_id() -> None:
    datasets = load_datasets()
    assert {name: d.socrata_id for name, d in datasets.items()} == EXPECTED


def test_every_configured_normalizer_is_found_and_targets_a_known_table() -> None:
    for name, config in load_datasets().items():
        assert callable(normalizer_for(name))
        assert normalizer_for(config.socrata_id) is normalizer_for(name)
        for table in config.tables:
            assert table in ROW_TYPES


def test_borough_partitions_use_each_datasets_own_spelling() -> None:
    datasets = load_datasets()
    assert datasets["hpd_violations"].partitions()["1"] == "boroid = 1"
    assert datasets["dob_violations"].partitions()["1"] == "boro = '1'"
    assert datasets["hpd_complaints"].partitions()["5"] == "borough = 'STATEN ISLAND'"
    assert datasets["pluto"].partitions()["1"] == "borough = 'MN'"
    assert datasets["dob_complaints"].partitions()["3"] == "starts_with(complaint_number, '3')"
    assert set(datasets["hpd_violations"].partitions()) == {"1", "2", "3", "4", "5", "other"}
    assert datasets["hpd_registration_contacts"].partitions() == {"all": None}


def test_311_partitions_always_carry_the_agency_filter() -> None:
    parts = load_datasets()["service_requests_311"].partitions()
    assert all(where.startswith("(agency in ('HPD', 'DOB')) AND (") for where in parts.values())


def test_full_replace_datasets_are_the_ones_the_publishers_rewrite() -> None:
    datasets = load_datasets()
    full = {name for name, d in datasets.items() if d.change_strategy == "full_replace"}
    assert {"dob_complaints", "pluto", "hpd_registrations", "hpd_registration_contacts"} <= full
    assert "hpd_violations" not in full


def test_a_source_outside_the_table_vocabulary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(
        "datasets:\n  x:\n    socrata_id: abcd-1234\n    natural_key: k\n    target_table: violations\n"
        "    source: OATH\n    normalizer: sentinel.normalize.ecb_violations\n"
        "    change_strategy: incremental\n    partition: {kind: none}\n"
    )
    with pytest.raises(ValidationError, match="OATH"):
        load_datasets(path)


def test_config_is_immutable() -> None:
    config = load_datasets()["pluto"]
    assert isinstance(config, DatasetConfig)
    with pytest.raises(ValidationError):
        config.natural_key = "x"  # type: ignore[misc]
