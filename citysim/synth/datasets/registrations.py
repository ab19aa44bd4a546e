"""HPD Multiple Dwelling Registrations (tesw-yqqr): buildings with 3+ units register every year (by September 1);
neglectful owners let registrations lapse (an end date in the past)."""

from __future__ import annotations

from collections.abc import Iterator

from citysim.synth.context import Batch
from citysim.synth.dates import day_date, day_number

DATASET_ID = "tesw-yqqr"


def registration_dates(batch: Batch, b: int, as_of: int) -> tuple[int, int]:
    """(last registration day, registration end day) as of a day; lapsed ones ended 1-3 years ago."""
    year = day_date(as_of).year
    sept1 = day_number(day_date(as_of).replace(month=9, day=1))
    cycle_start = sept1 if sept1 <= as_of else day_number(day_date(as_of).replace(year=year - 1, month=9, day=1))
    lapsed_years = (batch.bldgs.building_id[b] % 3 + 1) if batch.risk.trait[b, -1] == 2 else 0
    start = cycle_start - 365 * lapsed_years - int(batch.bldgs.building_id[b] % 60)
    return start, start + 365 + 60


def rows(batch: Batch, as_of: int) -> Iterator[dict[str, str]]:
    s, iso = batch.s, batch.fmt.iso
    for b in range(len(batch.bldgs)):
        if batch.bldgs.registration_id[b] == 0:
            continue
        last, end = registration_dates(batch, b, as_of)
        yield {
            **s.hpd_building(b),
            "bin": s.bin[b],
            "communityboard": s.cb[b],
            "lastregistrationdate": iso(last),
            "registrationenddate": iso(end),
        }
