"""Day numbers (days since 1970-01-01) and the date formats each dataset uses, through lookup tables.

Formatting a date per row with strftime would dominate the generator's run time; a table per format indexed
by day number makes it a list lookup.
"""

from __future__ import annotations

from datetime import date, timedelta

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return EPOCH + timedelta(days=n)


class DateFormats:
    """String forms of every day in [first, last]: ISO floating timestamp, YYYYMMDD, MM/DD/YYYY."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        days = [day_date(n) for n in range(first, last + 1)]
        self._iso = [f"{d.isoformat()}T00:00:00.000" for d in days]
        self._ymd = [d.strftime("%Y%m%d") for d in days]
        self._mdy = [d.strftime("%m/%d/%Y") for d in days]

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
