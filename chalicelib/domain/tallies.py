"""The counts behind the SLA report (R2, API.md "Reports and satisfaction"), kept by
counters the events themselves update, in the event's own write: a request received, a
first response to a customer's wait (within its deadline or not, and how many minutes
it took), a breach, a customer's rating. Reading a report reads those counters, never
the requests, so a year costs a bounded number of reads per period and group.

Each event adds to one counter per period (the company's day and ISO week) and group
(channel, label, agent), on one of `SHARDS` items chosen by the request's id, so that a
burst of events (a thousand breaches in a minute) spreads over several items instead of
conflicting on one. Minutes to a first response are kept as a histogram of whole
minutes (`HISTOGRAM_CAP` and longer in the last bucket): the median and the 90th
percentile are then exact nearest-rank figures over whole minutes, summed across
shards, days and groups.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.queue import queue_label  # the label staff corrected wins
from chalicelib.domain.tickets import Sla, Ticket
from chalicelib.timeutil import parse_iso
from chalicelib.values import frozen

GROUPS = ("channel", "label", "agent")
FACTS = ("received", "first_responses", "within_target", "breaches", "rating_good", "rating_bad")
SHARDS = 8
HISTOGRAM_CAP = 1_440  # a day; longer first responses count in this last bucket
NOBODY = "-"  # an event no staff member made (a request received): no agent counter
MAX_DAYS = 400  # a report covers at most this many days


@frozen
class Tally:
    """What one event adds to the counters: the facts, in each of its groups."""

    day: str  # the company's date, `2026-11-24`
    week: str  # its ISO week, `2026-W48`
    groups: tuple[tuple[str, str], ...]  # (group, value): channel, label, agent
    counts: tuple[tuple[str, int], ...]  # (fact, how many)
    minute: int | None = None  # a first response: whole minutes, capped
    shard: int = 0


@dataclass
class Counter:
    """The counters of one period and group value (shards summed)."""

    facts: dict[str, int] = field(default_factory=dict)
    minutes: dict[int, int] = field(default_factory=dict)

    def add(self, facts: Mapping[str, int], minutes: Mapping[int, int]) -> None:
        for name, value in facts.items():
            self.facts[name] = self.facts.get(name, 0) + value
        for minute, value in minutes.items():
            self.minutes[minute] = self.minutes.get(minute, 0) + value


def periods(at: datetime, timezone: str) -> tuple[str, str]:
    """The company's day and ISO week of an instant (R1.3's time zone)."""
    local = at.astimezone(ZoneInfo(timezone)).date()
    return local.isoformat(), week_of(local)


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def tally(
    ticket: Ticket,
    at: datetime,
    timezone: str,
    counts: Mapping[str, int],
    *,
    agent: str = NOBODY,
    minutes: float | None = None,
) -> Tally:
    """An event on `ticket` at `at`: `counts` in its channel, label and agent."""
    day, week = periods(at, timezone)
    groups: tuple[tuple[str, str], ...] = (
        ("channel", ticket.channel),
        ("label", queue_label(ticket)),
    )
    if agent != NOBODY:  # what no staff member did has no agent row to count in
        groups = (*groups, ("agent", agent))
    minute = None if minutes is None else min(max(int(minutes), 0), HISTOGRAM_CAP)
    shard = zlib.crc32(ticket.id.encode()) % SHARDS
    return Tally(day, week, groups, tuple(sorted(counts.items())), minute, shard)


def first_response(
    ticket: Ticket, before: Sla, after: Sla, at: datetime, timezone: str, agent: str
) -> Tally | None:
    """The first response to a customer's wait (an answer, or a delay notice before the
    deadline, R2.2), with its minutes and whether it came within the deadline."""
    if before.first_response_at or not after.first_response_at:
        return None
    started = parse_iso(before.started_at or ticket.created_at)
    minutes = (parse_iso(after.first_response_at) - started).total_seconds() / 60
    # A wait already breached is late whatever the clock says now (a sweep run ahead of
    # time by a person travelling in time breaches before `due_at`).
    in_time = (
        before.state != "breached"
        and before.due_at is not None
        and parse_iso(after.first_response_at) <= parse_iso(before.due_at)
    )
    counts = {"first_responses": 1, "within_target": int(in_time)}
    return tally(ticket, at, timezone, counts, agent=agent, minutes=minutes)


def percentile(histogram: Mapping[int, int], share: float) -> int | None:
    """Nearest-rank percentile of whole minutes: the smallest value with at least
    `share` of the responses at or below it."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-int(share * total * 1_000_000) // 1_000_000))  # ceil, exact for .5/.9
    seen = 0
    for minute in sorted(histogram):
        seen += histogram[minute]
        if seen >= rank:
            return minute
    return max(histogram)
