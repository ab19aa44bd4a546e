"""The real city's size: a synthetic city with NYC's row counts per dataset and its daily change volumes.

Targets (shared/NYC_DATA.md; the issue's figures): PLUTO ~858k lots; HPD violations ~11.3M rows, HPD complaints
and problems ~16.3M, 311 ~22.7M (since 2020; the synthetic 311 spreads the same total over the whole period),
DOB violations ~2.5M, DOB safety ~1.1M, ECB ~1.8M, DOB complaints ~3.1M. A day: ~82k HPD violation rows, ~34k
HPD complaint rows and ~560k 311 rows published, DOB complaints replaced in full.

One synthetic building is one lot, so the calibrated city (citysim/synth/risk.py: every building a multiple
dwelling) writes too many HPD rows per lot and too few DOB rows; the volume factors below scale each dataset's
rates to the real totals at `NYC_LOTS` buildings (measured on a 5,000-building city: rows per building with factor
1, then the factor that gives the real total; 311's factor applies to its non-HPD, non-DOB requests, the rest
follow the HPD and DOB complaints). Registrations and contacts are left as calibrated (~490k and ~1.5M at full
size against ~204k and ~810k: one registration per building of 3+ units).

The daily republished shares are the real daily volume minus what the synthetic city changes on a day (new
records and lifecycle steps, measured on the same city over 2024-12), divided by the dataset's rows.
"""

from __future__ import annotations

from datetime import date

from citysim.synth.changes import DailyVolumes
from citysim.synth.config import SynthConfig

NYC_LOTS = 858_284
NYC_START = date(2015, 1, 1)
NYC_END = date(2024, 12, 31)

NYC_VOLUMES: tuple[tuple[str, float], ...] = (
    ("wvxf-dwi5", 0.3974),  # HPD violations: 11.3M
    ("ygpa-z7cr", 0.3967),  # HPD complaints and problems: 16.3M
    ("eabe-havv", 1.5006),  # DOB complaints: 3.1M
    ("3h2n-5cm9", 1.6165),  # DOB violations: 2.5M
    ("855j-jady", 3.221),  # DOB safety violations: 1.1M
    ("6bgk-3dad", 0.9668),  # ECB violations: 1.8M
    ("erm2-nwe9", 1.1925),  # 311: 22.7M
)

NYC_DAILY = DailyVolumes(
    republish=(
        ("wvxf-dwi5", 0.00657),  # ~82k a day
        ("ygpa-z7cr", 0.00155),  # ~34k a day
        ("erm2-nwe9", 0.0257),  # ~560k a day
    ),
    replace=frozenset({"eabe-havv"}),
)


def nyc_config(scale: float = 1.0, seed: int = 1) -> SynthConfig:
    """The real city (scale 1) or a fraction of it: `scale` of the lots, the same rows per lot."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    return SynthConfig(
        buildings=max(1, round(NYC_LOTS * scale)), start=NYC_START, end=NYC_END, seed=seed, volumes=NYC_VOLUMES
    )
