"""The SLA report management reads (R2, API.md "Reports and satisfaction"): a range of
the company's days, by day or week, by channel, label or agent, read from the counters
`domain.tallies` describes (never from the requests themselves)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.tallies import FACTS, GROUPS, MAX_DAYS, Counter, percentile, week_of
from chalicelib.errors import InvalidInput
from chalicelib.timeutil import Clock
from chalicelib.values import frozen


@frozen
class ReportQuery:
    """`GET /staff/reports/sla`: a range of the company's days, by day or week, by group."""

    start: date
    end: date
    by: str
    group: str

    def periods(self) -> list[str]:
        """The counter periods to read, in order: one per day or per week."""
        found: list[str] = []
        day = self.start
        while day <= self.end:
            period = day.isoformat() if self.by == "day" else week_of(day)
            if not found or found[-1] != period:
                found.append(period)
            day += timedelta(days=1)
        return found


def parse_report_query(params: Mapping[str, str], today: date) -> ReportQuery:
    """`from` and `to` are the company's dates (default: the last 7 days to today)."""
    start = _date(params.get("from"), "from", today - timedelta(days=6))
    end = _date(params.get("to"), "to", today)
    by = params.get("by") or "day"
    group = params.get("group") or "channel"
    if by not in ("day", "week"):
        raise InvalidInput("invalid_by", "`by` is day or week", field="by")
    if group not in GROUPS:
        raise InvalidInput("invalid_group", f"`group` is one of {', '.join(GROUPS)}", field="group")
    if end < start:
        raise InvalidInput("invalid_range", "`to` is before `from`", field="to")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput("range_too_long", f"at most {MAX_DAYS} days", field="to")
    return ReportQuery(start, end, by, group)


def _date(raw: str | None, name: str, default: date) -> date:
    if raw is None or raw == "":
        return default
    try:
        if not raw.isascii() or len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` is a date such as 2026-11-24", field=name
        ) from None


def rows(
    periods_read: Iterable[str], counters: Mapping[tuple[str, str], Counter]
) -> list[dict[str, object]]:
    """The report's rows: per period (in order) and group value (sorted)."""
    out: list[dict[str, object]] = []
    for period in periods_read:
        values = sorted(v for p, v in counters if p == period)
        for value in values:
            counter = counters[(period, value)]
            facts = {name: counter.facts.get(name, 0) for name in FACTS}
            responses = facts["first_responses"]
            share = round(facts["within_target"] / responses, 4) if responses else None
            out.append(
                {
                    "period": period,
                    "group": value,
                    "received": facts["received"],
                    "first_responses": responses,
                    "within_target": facts["within_target"],
                    "within_target_share": share,
                    "first_response_minutes": {
                        "median": percentile(counter.minutes, 0.5),
                        "p90": percentile(counter.minutes, 0.9),
                    },
                    "breaches": facts["breaches"],
                    "ratings": {"good": facts["rating_good"], "bad": facts["rating_bad"]},
                }
            )
    return out


class CounterSource(Protocol):
    def counters(self, periods: Sequence[str], group: str) -> dict[tuple[str, str], Counter]:
        """Every counter of `group` in `periods` (`storage.Reports`)."""
        ...


class SlaReports:
    """`GET /staff/reports/sla` and `python -m chalicelib report`."""

    def __init__(self, counters: CounterSource, clock: Clock, timezone: str) -> None:
        self._counters = counters
        self._clock = clock
        self._timezone = timezone

    def report(self, staff: Principal, params: Mapping[str, str]) -> dict[str, Any]:
        require_staff(staff)
        today = self._clock().astimezone(ZoneInfo(self._timezone)).date()
        query = parse_report_query(params, today)
        read = query.periods()
        return {
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "by": query.by,
            "group": query.group,
            "timezone": self._timezone,
            "rows": rows(read, self._counters.counters(read, query.group)),
        }


def table(report: Mapping[str, Any]) -> str:
    """The report as a text table (the CLI's)."""
    head: tuple[str, ...] = ("period", str(report["group"]), "received", "answered", "in time")
    head += ("share", "median", "p90", "breaches", "good", "bad")
    lines: list[tuple[str, ...]] = [head]
    for row in report["rows"]:
        share = row["within_target_share"]
        minutes = row["first_response_minutes"]
        lines.append(
            (
                str(row["period"]),
                str(row["group"]),
                str(row["received"]),
                str(row["first_responses"]),
                str(row["within_target"]),
                "-" if share is None else f"{share:.0%}",
                "-" if minutes["median"] is None else str(minutes["median"]),
                "-" if minutes["p90"] is None else str(minutes["p90"]),
                str(row["breaches"]),
                str(row["ratings"]["good"]),
                str(row["ratings"]["bad"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )
