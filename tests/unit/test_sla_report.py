"""The SLA report (R2, API.md "Reports and satisfaction"): its figures equal a hand count
over a seeded month of requests, read from counters, never from the requests."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.identity import Principal
from chalicelib.domain.tallies import percentile, week_of
from chalicelib.errors import Forbidden, InvalidInput
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.chat import parse_transcript
from tests.fakes import FakeWorld, fake_world

MOSCOW = ZoneInfo("Europe/Moscow")
START = datetime(2026, 11, 1, tzinfo=MOSCOW)  # a month of the company's days
AGENTS = [
    Principal(sub=f"sub-agent-{n}", email=f"agent{n}@hosting.example", groups=frozenset({"staff"}))
    for n in range(2)
]
SUBJECTS = [
    ("Сайт", "Сайт отдаёт 502"),
    ("Почта", "Почта не работает"),
    ("Тариф", "Как сменить тариф?"),
]


def day_of(at: datetime) -> str:
    return at.astimezone(MOSCOW).date().isoformat()


class Ledger:
    """The hand count: what happened, by day and group value."""

    def __init__(self) -> None:
        self.facts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.minutes: dict[tuple[str, str], list[int]] = defaultdict(list)

    def add(self, at: datetime, value: str, fact: str, minutes: int | None = None) -> None:
        self.facts[(day_of(at), value)][fact] += 1
        if minutes is not None:
            self.minutes[(day_of(at), value)].append(minutes)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for day, value in sorted(set(self.facts) | set(self.minutes)):
            facts = self.facts[(day, value)]
            minutes = sorted(self.minutes[(day, value)])
            answered = facts["first_responses"]
            out.append(
                {
                    "period": day,
                    "group": value,
                    "received": facts["received"],
                    "first_responses": answered,
                    "within_target": facts["within_target"],
                    "within_target_share": round(facts["within_target"] / answered, 4)
                    if answered
                    else None,
                    "first_response_minutes": {
                        "median": _rank(minutes, 0.5),
                        "p90": _rank(minutes, 0.9),
                    },
                    "breaches": facts["breaches"],
                    "ratings": {"good": facts["rating_good"], "bad": facts["rating_bad"]},
                }
            )
        return out


def _rank(values: list[int], share: float) -> int | None:
    """Nearest rank, written out by hand: the ceil(share * n)-th smallest."""
    if not values:
        return None
    n = len(values)
    rank = int(share * n) if share * n == int(share * n) else int(share * n) + 1
    return values[max(rank, 1) - 1]


def simulate(world: FakeWorld, seed: int, by: str) -> Ledger:
    """A month: cabinet tickets answered in time, late, after a delay notice or never,
    and chat transcripts; the ledger counts by channel (`by="channel"`) or agent."""
    rng = random.Random(seed)
    ledger = Ledger()
    plans = []
    for day in range(30):
        for _ in range(rng.randint(0, 5)):
            plans.append(START + timedelta(days=day, minutes=rng.randint(0, 22 * 60)))
    for n, created in enumerate(sorted(plans)):
        if rng.random() < 0.2:  # a chat transcript: received, advisory, no clock
            world.clock.now = created.astimezone(UTC)
            _chat(world, n, created)
            if by == "channel":  # no agent received it: no agent row counts it
                ledger.add(created, "chat", "received")
            continue
        world.clock.now = created.astimezone(UTC)
        customer = Principal(sub=f"sub-c{n % 7}", email=None, groups=frozenset())
        subject, text = rng.choice(SUBJECTS)
        ticket = world.runtime.cabinet.open_ticket(customer, NewTicket(subject, text))
        if by == "channel":
            ledger.add(created, "cabinet", "received")
        agent = rng.choice(AGENTS)
        group = "cabinet" if by == "channel" else agent.sub
        fate = rng.random()
        minute = rng.randint(1, 59) if fate < 0.5 else rng.randint(61, 180)
        if fate >= 0.9:  # never answered: breached by the sweep
            breach = created + timedelta(minutes=61)
            world.runtime.sweeper.run(breach.astimezone(UTC))
            if by == "channel":
                ledger.add(breach, "cabinet", "breaches")
            continue
        if minute > 60:  # the sweep breaches it first, then the late answer
            breach = created + timedelta(minutes=61)
            world.runtime.sweeper.run(breach.astimezone(UTC))
            if by == "channel":
                ledger.add(breach, "cabinet", "breaches")
        answered = created + timedelta(minutes=minute, seconds=rng.randint(0, 59))
        world.clock.now = answered.astimezone(UTC)
        world.runtime.desk.respond(agent, ticket.id, "Ответ.")
        ledger.add(answered, group, "first_responses", minute)
        if minute <= 60:
            ledger.add(answered, group, "within_target")
    return ledger


def _chat(world: FakeWorld, n: int, at: datetime) -> None:
    stamp = at.isoformat()
    body = {
        "id": f"conv-{n}",
        "channel": "chat",
        "started_at": stamp,
        "ended_at": stamp,
        "messages": [{"from": "customer", "at": stamp, "text": "Как сменить тариф?"}],
    }
    world.runtime.chat.record(parse_transcript(body))


@pytest.mark.parametrize("group", ["channel", "agent"])
def test_the_report_equals_a_hand_count_over_a_seeded_month(group: str) -> None:
    world = fake_world(START.astimezone(UTC))
    ledger = simulate(world, seed=24, by=group)
    report = world.runtime.reports.report(
        AGENTS[0], {"from": "2026-11-01", "to": "2026-11-30", "by": "day", "group": group}
    )
    assert report["rows"] == ledger.rows()
    assert sum(r["first_responses"] for r in report["rows"]) > 30  # the month is not empty
    assert world.store.reports.reads == 30  # one read per day, whatever the volume


def test_a_week_sums_its_days_and_its_percentiles_come_from_the_summed_minutes() -> None:
    world = fake_world(START.astimezone(UTC))
    ledger = simulate(world, seed=7, by="channel")
    report = world.runtime.reports.report(
        AGENTS[0], {"from": "2026-11-02", "to": "2026-11-29", "by": "week", "group": "channel"}
    )
    for row in report["rows"]:
        days = [
            k
            for k in ledger.facts
            if week_of(datetime.fromisoformat(k[0]).date()) == row["period"]
            and k[1] == row["group"]
        ]
        assert row["received"] == sum(ledger.facts[k]["received"] for k in days)
        minutes = sorted(m for k in days for m in ledger.minutes.get(k, []))
        assert row["first_response_minutes"]["median"] == _rank(minutes, 0.5)
        assert row["first_response_minutes"]["p90"] == _rank(minutes, 0.9)
    assert [r["period"] for r in report["rows"] if r["group"] == "cabinet"] == [
        "2026-W45",
        "2026-W46",
        "2026-W47",
        "2026-W48",
    ]


def test_nearest_rank_percentiles() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({5: 1}, 0.9) == 5
    assert percentile({1: 1, 2: 1, 3: 1, 4: 1}, 0.5) == 2
    assert percentile(dict.fromkeys(range(1, 11), 1), 0.9) == 9
    assert percentile({1: 9, 100: 1}, 0.9) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"by": "month"}, "invalid_by"),
        ({"group": "customer"}, "invalid_group"),
        ({"from": "2026-13-01"}, "invalid_from"),
        ({"from": "２０２６-11-01"}, "invalid_from"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "invalid_range"),
        ({"from": "2024-01-01", "to": "2026-11-30"}, "range_too_long"),
    ],
)
def test_a_report_query_it_cannot_read_is_a_400(params: dict[str, str], code: str) -> None:
    world = fake_world(START.astimezone(UTC))
    with pytest.raises(InvalidInput) as refused:
        world.runtime.reports.report(AGENTS[0], params)
    assert refused.value.code == code


def test_customers_do_not_read_the_report() -> None:
    world = fake_world(START.astimezone(UTC))
    with pytest.raises(Forbidden):
        world.runtime.reports.report(Principal("sub-anna", None, frozenset()), {})
