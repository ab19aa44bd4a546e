"""A synthetic city that keeps living: new HPD violations and closings published on a running replay server, in
the dataset's exact API format, and kept beside the city so that a restarted replay server serves them again.

A new violation takes its building's fields (address, BIN, BBL, registration, census geography...) from a row the
city already published for that building, and its own fields from the generator's templates and deadline rules
(citysim.synth.datasets.hpd_violations): Class C heat and hot water are corrected in 24 hours, other C in 5 days,
B in 30 and A in 90 (plus 5 days of mailing), certify-by 5 (C) or 14 days after correct-by.

Saved changes (`DIR/live/NNNNNN.json`) carry the `:updated_at` they were published with: replayed in order after
the city's files, they leave every row exactly as the ingester last saw it, so nothing looks deleted or changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from citysim.synth.datasets.hpd_violations import DATASET_ID, TEMPLATES

HPD = DATASET_ID
# The violation's own fields; everything else of a template row describes the building and is copied.
_VIOLATION_FIELDS = frozenset({
    "violationid", "apartment", "story", "class", "inspectiondate", "approveddate", "originalcertifybydate",
    "originalcorrectbydate", "newcertifybydate", "newcorrectbydate", "certifieddate", "ordernumber", "novid",
    "novdescription", "novissueddate", "currentstatusid", "currentstatus", "currentstatusdate", "novtype",
    "violationstatus", "rentimpairing",
})  # fmt: skip
_APARTMENTS = ["1A", "2B", "3C", "4D", "5A", "6F", "2R", "3L"]


class Publisher(Protocol):
    def apply_changes(self, changes: dict[str, Any]) -> dict[str, dict[str, Any]]: ...


def _soda_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000"


@dataclass(frozen=True)
class Deadlines:
    correct_by: date
    certify_by: date


def deadlines(klass: str, issued: date, heat_like: bool) -> Deadlines:
    """HPD's correction windows by class, as the generator applies them."""
    if klass == "C":
        correct = issued + timedelta(days=1 if heat_like else 5)
        return Deadlines(correct, correct + timedelta(days=5))
    correct = issued + timedelta(days=(30 if klass == "B" else 90) + 5)
    return Deadlines(correct, correct + timedelta(days=14))


def new_violation(
    template: Mapping[str, Any], violation_id: int, novid: int, klass: str, day: date, rng: np.random.Generator
) -> dict[str, Any]:
    """A new HPD violation at the template row's building, inspected and issued on `day`."""
    order, text, heat_like = TEMPLATES[klass][int(rng.integers(len(TEMPLATES[klass])))]
    apartment = _APARTMENTS[int(rng.integers(len(_APARTMENTS)))]
    due = deadlines(klass, day, heat_like)
    row = {k: v for k, v in template.items() if not k.startswith(":") and k not in _VIOLATION_FIELDS}
    row.update(
        violationid=str(violation_id), apartment=apartment, story=apartment[0], inspectiondate=_soda_day(day),
        approveddate=_soda_day(day), originalcertifybydate=_soda_day(due.certify_by),
        originalcorrectbydate=_soda_day(due.correct_by), ordernumber=order, novid=str(novid),
        novdescription=text.format(w=f"IN THE ENTIRE APARTMENT LOCATED AT APT {apartment}, {apartment[0]}th STORY"),
        novissueddate=_soda_day(day), currentstatusid="2", currentstatus="NOV SENT OUT",
        currentstatusdate=_soda_day(day), novtype="Original", violationstatus="Open",
        rentimpairing="Y" if klass == "C" else "N", **{"class": klass},
    )  # fmt: skip
    return row


def closing(violation_id: str, day: date) -> dict[str, Any]:
    """The update HPD publishes when a reinspection closes a violation."""
    return {
        "violationid": violation_id, "currentstatusid": "19", "currentstatus": "VIOLATION CLOSED",
        "currentstatusdate": _soda_day(day), "violationstatus": "Close",
    }  # fmt: skip


class LiveCity:
    """Publishes a city's new records on a replay server and keeps them under `city_dir/live/`."""

    def __init__(self, city_dir: Path, publisher: Publisher, seed: int = 0) -> None:
        self.dir = Path(city_dir) / "live"
        self.publisher = publisher
        self._rng = np.random.default_rng(seed + len(self.saved()))

    def saved(self) -> list[Path]:
        return sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []

    def replay_saved(self) -> int:
        """Apply every saved change, in order, with the time it was first published; returns how many."""
        files = self.saved()
        for path in files:
            self.publisher.apply_changes(orjson.loads(path.read_bytes()))
        return len(files)

    def last_day(self) -> date | None:
        """The last city date published through (None: nothing since the city was written). Days without a
        change count too: `catch_up` records the day it reached."""
        files = self.saved()
        days = [date.fromisoformat(orjson.loads(files[-1].read_bytes())["day"])] if files else []
        through = self.dir / "through"
        if through.is_file():
            days.append(date.fromisoformat(through.read_text().strip()))
        return max(days, default=None)

    def _next_ids(self, count: int) -> list[int]:
        # Above every id the generator uses (its keys stay below 10^8), unique across restarts and publications.
        base = 900_000_000 + len(self.saved()) * 1000
        return [base + i for i in range(count)]

    def publish(
        self,
        templates: Sequence[Mapping[str, Any]],
        classes: Iterable[str],
        day: date,
        close: Sequence[str] = (),
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """New violations of `classes` (one per class, at buildings drawn from `templates`) and closings of the
        `close` ids, published on `day` and saved; returns the new rows."""
        classes = list(classes)
        ids = self._next_ids(len(classes))
        rows = []
        for violation_id, klass in zip(ids, classes, strict=True):
            template = templates[int(self._rng.integers(len(templates)))]
            rows.append(new_violation(template, violation_id, violation_id - 880_000_000, klass, day, self._rng))
        changes: dict[str, Any] = {"datasets": {HPD: {"upsert": rows + [closing(v, day) for v in close]}}}
        summary = self.publisher.apply_changes({**changes, **({"at": at.isoformat()} if at else {})})
        # Saved with the time the replay server gave the rows, so replaying them later restores them exactly.
        changes.update(at=summary[HPD]["updated_at"], day=day.isoformat())
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / f"{len(self.saved()):06d}.json").write_bytes(orjson.dumps(changes))
        return rows

    def catch_up(
        self, templates: Sequence[Mapping[str, Any]], open_ids: Sequence[str], since: date, today: date,
        per_day: float, max_days: int = 366,
    ) -> int:  # fmt: skip
        """Publish what the city would have published from the day after `since` to `today`: about `per_day`
        new violations a day (the city's own rate) and as many closings of open ones. Returns the rows."""
        published = 0
        open_left = list(open_ids)
        first = max(since + timedelta(days=1), today - timedelta(days=max_days - 1))
        for offset in range((today - first).days + 1):
            day = first + timedelta(days=offset)
            count = int(self._rng.poisson(per_day))
            if not count:
                continue
            classes = self._rng.choice(["C", "B", "A"], size=count, p=[0.3, 0.5, 0.2]).tolist()
            closes = [open_left.pop(int(self._rng.integers(len(open_left)))) for _ in range(min(count, len(open_left)))]
            at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=14)
            published += len(self.publish(templates, classes, day, closes, at=min(at, datetime.now(UTC))))
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "through").write_text(today.isoformat())
        return published
