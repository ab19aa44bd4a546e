"""Day numbers (days since 1970-01-01) and the date formats each dataset uses, through lookup tables.

Formatting a date per row with strftime would dominate the generator's run time; a table per format indexed
by day number makes it a list lookup.
"""

from __future__ import annotations

from datetime import date, timedelta

EPOCH = date(1970, 1, 1)
# "HH:MM:SS" of every second of a day (311 timestamps carry a time of day).
CLOCK = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return EPOCH + timedelta(days=n)


class DateFormats:
    """String forms of every day in [first, last]: ISO floating timestamp, YYYYMMDD, MM/DD/YYYY.

    The row loops of the big datasets index `by_day_iso` / `by_day_date` with the day number itself: a list index
    costs a fifth of a method call, and the tables are padded with "" below `first` (a few 10k pointers).
    """

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        days = [day_date(n) for n in range(first, last + 1)]
        self._iso = [f"{d.isoformat()}T00:00:00.000" for d in days]
        self._ymd = [d.strftime("%Y%m%d") for d in days]
        self._mdy = [d.strftime("%m/%d/%Y") for d in days]
        pad = [""] * first
        self.by_day_iso = pad + self._iso
        self.by_day_date = pad + [d.isoformat() for d in days]

    def iso(self, day: int) -> str:
        """Socrata floating_timestamp at midnight: "2013-10-08T00:00:00.000" (HPD, 311, PLUTO dates)."""
        return self._iso[day - self.first]

    def iso_time(self, day: int, seconds: int) -> str:
        """Floating timestamp with a time of day (311 created/closed dates)."""
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        return f"{self._iso[day - self.first][:10]}T{h:02d}:{m:02d}:{s:02d}.000"

    def ymd(self, day: int) -> str:
        """Text "YYYYMMDD" (DOB violations, ECB)."""
        return self._ymd[day - self.first]

    def mdy(self, day: int) -> str:
        """Text "MM/DD/YYYY" (DOB complaints)."""
        return self._mdy[day - self.first]
