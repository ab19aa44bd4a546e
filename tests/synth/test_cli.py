"""`vsentinel synth` writes a city, its ground truth and days of changes."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from citysim.replay.formats import read_dataset_file
from citysim.replay.store import discover_sources
from cluster.cli_synth import synth_command


def test_synth_command_writes_datasets_ground_truth_and_changes(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth_command)
    out = tmp_path / "city"
    args = ["--buildings", "40", "--start", "2021-01-01", "--end", "2021-06-30", "--seed", "5", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--as-of", "2021-06-20", "--change-days", "2"])
    assert result.exit_code == 0, result.output
    assert (out / "wvxf-dwi5.json").is_file() and (out / "ground_truth" / "buildings.csv").is_file()
    assert sorted(p.name for p in (out / "changes").iterdir()) == ["2021-06-21.json", "2021-06-22.json"]


def test_synth_command_rejects_a_bad_date(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth_command)
    result = CliRunner().invoke(app, ["--start", "2021-13-01", "--out", str(tmp_path)])
    assert result.exit_code != 0


def test_synth_command_writes_a_fraction_of_the_real_city_and_its_days(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth_command)
    out = tmp_path / "city"
    args = ["--nyc-scale", "0.0001", "--change-days", "2", "--no-truth", "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not (out / "ground_truth").exists()
    assert len((out / "64uk-42ks.json").read_text().splitlines()) == 86 + 2  # 0.0001 of 858,284 lots, `[` and `]`
    assert sorted(p.name for p in (out / "changes").iterdir()) == ["2024-12-30.json", "2024-12-31.json"]
    doc = orjson.loads((out / "changes" / "2024-12-31.json").read_bytes())
    assert set(doc["datasets"]["eabe-havv"]) == {"replace", "delete"}


def test_synth_command_writes_only_the_datasets_named(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth_command)
    out = tmp_path / "city"
    args = ["--nyc-scale", "0.0001", "--change-days", "1", "--no-truth", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--datasets", "hpd_violations, 64uk-42ks"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.json")) == ["64uk-42ks.json", "wvxf-dwi5.json"]
    doc = orjson.loads((out / "changes" / "2024-12-31.json").read_bytes())
    assert set(doc["datasets"]) == {"wvxf-dwi5"}  # PLUTO has no daily changes
    refused = CliRunner().invoke(app, [*args, "--datasets", "hpd_violatons"])
    assert refused.exit_code != 0 and "hpd_violatons" in refused.output


def test_synth_command_compressed_writes_zstd_files_the_store_reads(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(synth_command)
    out = tmp_path / "city"
    args = ["--nyc-scale", "0.0001", "--change-days", "1", "--no-truth", "--compress", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--datasets", "pluto"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir() if p.is_file()] == ["64uk-42ks.json.zst"]
    assert "64uk-42ks.json.zst" in result.output
    assert [p.name for p in (out / "changes").iterdir()] == ["2024-12-31.json.zst"]
    assert discover_sources(out)["64uk-42ks"] == [out / "64uk-42ks.json.zst"]
    assert len(list(read_dataset_file(out / "64uk-42ks.json.zst", "64uk-42ks"))) == 86
