"""A synthetic city written straight into the canonical tables, with its hidden risk beside it.

The full generator (`citysim.synth`) writes Socrata-format files that go through ingestion; this one skips that
path so model tests and benchmarks can fill PostgreSQL in seconds (COPY of canonical rows) before the ingester
lands. It writes the same ground-truth layout (`ground_truth/months.txt`, `serious_rate_monthly.npy`,
`buildings.csv`), so `sentinel.risk.oracle` reads either.

The risk process: log serious rate = base + size + persistent condition + yearly AR(1) drift + neglect (a monthly
two-state Markov chain whose switching depends on the owner) + heat season. Serious events (HPD class C, DOB/ECB
hazardous, vacate orders) are Poisson with that rate; lesser violations and complaints follow the same rate, so
history predicts the future, but not perfectly.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

BASE_RATE = 0.0035
SERIOUS_MIX = {"hpd_c": 0.85, "ecb_hazardous": 0.07, "dob_hazardous": 0.06, "vacate": 0.02}
LESSER_PER_SERIOUS = {"hpd_a": 2.0, "hpd_b": 3.0, "ecb_minor": 0.5, "dob_minor": 0.6}
COMPLAINTS_PER_SERIOUS = 5.0
ENTER_NEGLECT = np.array([0.005, 0.015, 0.05])
LEAVE_NEGLECT = np.array([0.30, 0.12, 0.05])
CLOSE_DAYS = np.array([10.0, 40.0, 250.0])  # mean days to close by owner trait when attentive
BLDG_CLASSES = np.array(["C0", "C1", "C4", "C6", "D1", "D6", "R4", "S2", "B1", "A1"])


@dataclass(frozen=True)
class CityInfo:
    buildings: int
    violations: int
    complaints: int
    start: date
    end: date
    out: Path


def _month_starts(start: date, end: date) -> list[date]:
    months, d = [], date(start.year, start.month, 1)
    while d <= end:
        months.append(d)
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return months


def _risk(rng: np.random.Generator, n: int, months: list[date]) -> tuple[np.ndarray, np.ndarray, dict]:
    m = len(months)
    units = np.maximum(1, np.rint(np.exp(rng.normal(2.2, 1.0, n)))).astype(int)
    condition = rng.normal(0.0, 1.0, n)
    trait = rng.choice(3, size=n, p=[0.45, 0.4, 0.15])
    years = m // 12 + 2
    drift = np.zeros((n, years))
    for y in range(1, years):
        drift[:, y] = 0.6 * drift[:, y - 1] + rng.normal(0.0, 0.35, n)
    neglect = np.zeros((n, m), dtype=bool)
    state = rng.uniform(size=n) < ENTER_NEGLECT[trait] / (ENTER_NEGLECT[trait] + LEAVE_NEGLECT[trait])
    for j in range(m):
        u = rng.uniform(size=n)
        state = np.where(state, u >= LEAVE_NEGLECT[trait], u < ENTER_NEGLECT[trait])
        neglect[:, j] = state
    month_of_year = np.array([d.month for d in months])
    season = np.where((month_of_year >= 10) | (month_of_year <= 3), 0.35, -0.25)
    year_index = np.array([j // 12 for j in range(m)])
    log_rate = (
        np.log(BASE_RATE)
        + 0.75 * np.log(units)[:, None]
        + 0.8 * (condition[:, None] + drift[:, year_index])
        + 1.1 * neglect
        + season[None, :]
    )
    attrs = {"units": units, "condition": condition, "trait": trait}
    return np.exp(log_rate), neglect, attrs


def _days(rng: np.random.Generator, months: list[date], month_idx: np.ndarray, end: date) -> np.ndarray:
    """A uniformly random day (as numpy datetime64[D]) in each given month, never after `end`."""
    starts = np.array(months, dtype="datetime64[D]")
    nexts = np.array([*months[1:], end + timedelta(days=1)], dtype="datetime64[D]")
    nexts = np.minimum(nexts, np.datetime64(end + timedelta(days=1)))
    span = (nexts - starts).astype(int)[month_idx]
    return starts[month_idx] + (rng.uniform(size=month_idx.size) * span).astype(int)


def _events(rng, rate: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    counts = rng.poisson(rate * share)
    b, j = np.nonzero(counts)
    reps = counts[b, j]
    return np.repeat(b, reps), np.repeat(j, reps)


def generate(conn: psycopg.Connection, out: Path, buildings: int, start: date, end: date, seed: int = 0) -> CityInfo:
    rng = np.random.default_rng(seed)
    months = _month_starts(start, end)
    rate, neglect, attrs = _risk(rng, buildings, months)
    n = buildings
    boro = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.2, 0.25, 0.3, 0.2, 0.05])
    idx = np.arange(n)
    bbl = np.array([f"{b}{i // 500 + 1:05d}{i % 500 + 1:04d}" for b, i in zip(boro, idx, strict=True)])
    units = attrs["units"]
    floors = np.maximum(1, np.rint(np.sqrt(units) * rng.uniform(0.8, 1.6, n)))
    year_built = rng.integers(1890, 2016, n)
    bldg_class = BLDG_CLASSES[rng.integers(0, len(BLDG_CLASSES), n)]
    owner_type = np.where(rng.uniform(size=n) < 0.05, "C", np.where(rng.uniform(size=n) < 0.1, "X", "P"))
    properties = pd.DataFrame(
        {
            "bbl": bbl,
            "borough": boro,
            "block": idx // 500 + 1,
            "lot": idx % 500 + 1,
            "units_res": units,
            "units_total": units + rng.integers(0, 3, n),
            "num_floors": floors,
            "year_built": year_built,
            "bldg_class": bldg_class,
            "owner_type": owner_type,
        }
    )
    violations = _violations(rng, rate, neglect, attrs["trait"], months, end, bbl, boro)
    complaints = _complaints(rng, rate, months, end, bbl, boro)
    registrations = _registrations(rng, attrs["trait"], units, end, bbl)
    _copy(conn, "properties", properties)
    _copy(conn, "violations", violations)
    _copy(conn, "complaints", complaints)
    _copy(conn, "registrations", registrations)
    conn.commit()
    _write_truth(out / "ground_truth", months, rate, bbl, attrs)
    return CityInfo(n, len(violations), len(complaints), start, end, out)


def _violations(rng, rate, neglect, trait, months, end, bbl, boro) -> pd.DataFrame:
    kinds = {**SERIOUS_MIX, **LESSER_PER_SERIOUS}
    parts = []
    for kind, share in kinds.items():
        b, j = _events(rng, rate, share)
        parts.append(pd.DataFrame({"b": b, "j": j, "kind": kind}))
    v = pd.concat(parts, ignore_index=True)
    issued = _days(rng, months, v["j"].to_numpy(), end)  # datetime64[D]: adding ints adds days
    kind = v["kind"].to_numpy()
    b = v["b"].to_numpy()
    source = np.select(
        [np.isin(kind, ["hpd_a", "hpd_b", "hpd_c"]), np.isin(kind, ["ecb_hazardous", "ecb_minor"]), kind == "vacate"],
        ["HPD", "ECB", "HPD_VACATE"],
        "DOB",
    )
    klass = np.select(
        [kind == "hpd_a", kind == "hpd_b", kind == "hpd_c", kind == "ecb_hazardous", kind == "ecb_minor"],
        ["A", "B", "C", "CLASS - 1", "CLASS - 3"],
        np.where(kind == "vacate", "Entire Building", "DOB"),
    )
    immediately = np.isin(kind, ["hpd_c", "vacate", "ecb_hazardous"])
    severity = np.select(
        [kind == "hpd_a", kind == "hpd_b", immediately, kind == "dob_hazardous"],
        ["non_hazardous", "hazardous", "immediately_hazardous", "hazardous"],
        "non_hazardous",
    )
    neglected = neglect[b, v["j"].to_numpy()]
    mean_close = CLOSE_DAYS[trait[b]] * np.where(neglected, 3.0, 1.0)
    close_days = rng.exponential(mean_close).astype(int) + 1
    closed_on = issued + close_days
    is_closed = closed_on <= np.datetime64(end)
    certify = np.select([kind == "hpd_a", kind == "hpd_b", kind == "hpd_c"], [90, 30, 14], -1)
    certify_by = np.where(certify > 0, issued + np.maximum(certify, 0), np.datetime64("NaT"))
    is_ecb = source == "ECB"
    penalty = np.where(
        is_ecb, np.where(kind == "ecb_hazardous", 2500.0, 300.0) * rng.choice([1, 2, 4], size=len(v)), np.nan
    )
    balance = np.where(is_ecb, np.where(is_closed, 0.0, penalty), np.nan)
    return pd.DataFrame(
        {
            "source": source,
            "source_id": [f"{s}-{i}" for s, i in zip(source, range(len(v)), strict=True)],
            "bbl": bbl[b],
            "borough": boro[b],
            "class": klass,
            "severity": severity,
            "status": np.where(is_closed, "closed", "open"),
            "issued_date": issued,
            "status_date": np.where(is_closed, closed_on, issued),
            "certify_by_date": certify_by,
            "hearing_date": np.where(is_ecb, issued + 60, np.datetime64("NaT")),
            "penalty_imposed": penalty,
            "amount_paid": np.where(is_ecb, np.where(is_closed, penalty, 0.0), np.nan),
            "balance_due": balance,
            "raw": "{}",
            "content_hash": "synthetic",
        }
    )


def _complaints(rng, rate, months, end, bbl, boro) -> pd.DataFrame:
    month_of_year = np.array([d.month for d in months])
    winter = (month_of_year >= 10) | (month_of_year <= 4)
    b, j = _events(rng, rate, COMPLAINTS_PER_SERIOUS)
    received = _days(rng, months, j, end)
    heat = winter[j] & (rng.uniform(size=b.size) < 0.6)
    category = np.where(heat, "HEAT/HOT WATER", rng.choice(["PLUMBING", "PAINT/PLASTER", "NOISE", "ELEVATOR"], b.size))
    source = np.where(rng.uniform(size=b.size) < 0.6, "311", "HPD")
    closed = np.minimum(received + rng.integers(1, 40, b.size), np.datetime64(end))
    return pd.DataFrame(
        {
            "source": source,
            "source_id": [f"C-{i}" for i in range(b.size)],
            "bbl": bbl[b],
            "borough": boro[b],
            "category": category,
            "status": "closed",
            "received_date": received,
            "status_date": closed,
            "closed_date": closed,
            "raw": "{}",
            "content_hash": "synthetic",
        }
    )


def _registrations(rng, trait, units, end, bbl) -> pd.DataFrame:
    multiple = np.flatnonzero(units >= 3)
    last = np.datetime64(end) - rng.integers(0, 900, multiple.size)
    lapse_more = np.where(trait[multiple] == 2, 0, 365)
    return pd.DataFrame(
        {
            "registration_id": np.arange(1, multiple.size + 1),
            "bbl": bbl[multiple],
            "last_registration_date": last,
            "registration_end_date": last + lapse_more,
            "raw": "{}",
            "content_hash": "synthetic",
        }
    )


def _copy(conn: psycopg.Connection, table: str, frame: pd.DataFrame, chunk: int = 400_000) -> None:
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with conn.cursor() as cur:
        for lo in range(0, len(frame), chunk):
            buffer = io.StringIO()
            frame.iloc[lo : lo + chunk].to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d")
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())


def _write_truth(out: Path, months: list[date], rate: np.ndarray, bbl: np.ndarray, attrs: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "months.txt").write_text("\n".join(f"{d:%Y-%m}" for d in months) + "\n")
    np.save(out / "serious_rate_monthly.npy", rate.astype(np.float32))
    with (out / "buildings.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bbl", "units", "condition", "owner_trait"])
        for i in range(len(bbl)):
            writer.writerow([bbl[i], attrs["units"][i], f"{attrs['condition'][i]:.4f}", int(attrs["trait"][i])])
