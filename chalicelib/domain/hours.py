"""Staffed hours (R1.3): which channels are staffed at an instant, and when they next open.

Cabinet tickets and e-mail are accepted around the clock (R1.2). Chat and Skype are
staffed Mon–Fri 09:00–01:00 (the shift ends at 01:00 the next morning) and Sat–Sun
10:00–00:00, in the company's time zone. Shifts are computed in local wall time with
`zoneinfo`, so a zone with daylight saving keeps its shifts at the same local hours.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.values import frozen

ALWAYS_OPEN = ("cabinet", "email")
STAFFED = ("chat", "skype")
CHANNELS = ALWAYS_OPEN + STAFFED

# weekday (Monday = 0) → shift start, and its length in hours from that start
_SHIFTS: dict[int, tuple[time, int]] = {
    0: (time(9), 16),
    1: (time(9), 16),
    2: (time(9), 16),
    3: (time(9), 16),
    4: (time(9), 16),
    5: (time(10), 14),
    6: (time(10), 14),
}


@frozen
class ChannelHours:
    open: bool
    next_open: datetime | None


class SupportHours:
    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self._zone = ZoneInfo(timezone)

    def _shift(self, day: date) -> tuple[datetime, datetime]:
        start, hours = _SHIFTS[day.weekday()]
        # Wall-clock arithmetic: the shift ends at the same local hour whatever DST does.
        naive_begin = datetime.combine(day, start)
        naive_end = naive_begin + timedelta(hours=hours)
        return naive_begin.replace(tzinfo=self._zone), naive_end.replace(tzinfo=self._zone)

    def is_staffed(self, channel: str, at: datetime) -> bool:
        """True when `channel` has staff at instant `at` (R1.2, R1.3)."""
        if channel in ALWAYS_OPEN:
            return True
        local = at.astimezone(self._zone)
        for day in (local.date() - timedelta(days=1), local.date()):
            begin, end = self._shift(day)
            if begin <= at < end:
                return True
        return False

    def next_open(self, channel: str, at: datetime) -> datetime | None:
        """Start of the next staffed period after `at`; None if staffed now or always open."""
        if channel in ALWAYS_OPEN or self.is_staffed(channel, at):
            return None
        local_day = at.astimezone(self._zone).date()
        for offset in range(8):
            begin, _ = self._shift(local_day + timedelta(days=offset))
            if begin > at:
                return begin
        raise AssertionError("every week has a shift")  # pragma: no cover

    def channels(self, at: datetime) -> dict[str, ChannelHours]:
        return {c: ChannelHours(self.is_staffed(c, at), self.next_open(c, at)) for c in CHANNELS}

    def to_api(self, at: datetime) -> dict[str, Any]:
        """`GET /support/hours`: each channel open or not at `at`, and when it opens."""
        channels = {
            name: {"open": c.open, "next_open": c.next_open.isoformat() if c.next_open else None}
            for name, c in self.channels(at).items()
        }
        return {"timezone": self.timezone, "at": at.isoformat(), "channels": channels}
