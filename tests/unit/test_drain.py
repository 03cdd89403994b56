"""The outbox drains by time, not by count (an outage at night breaches a thousand
tickets at once, and a count of 200 left 800 escalations to later sweeps), several
sends at a time; an incident's escalation stays one whoever sends first (R2.4, R3.3)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from chalicelib.domain.tickets import OutboxEntry
from chalicelib.outbound.delivery import Dispatcher
from chalicelib.timeutil import to_iso
from tests.fakes import MemoryStore

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def owed(store: MemoryStore, count: int, kind: str = "sla_breach") -> None:
    with store._lock:
        for n in range(count):
            entry = OutboxEntry(f"{kind}:T-{n:07d}:d", kind, f"T-{n:07d}", {}, to_iso(NOW))
            store._outbox[entry.id] = entry


def test_a_burst_of_a_thousand_escalations_goes_out_in_one_drain() -> None:
    store = MemoryStore()
    owed(store, 1000)
    sent: list[str] = []
    dispatcher = Dispatcher(store.outbox, {"sla_breach": lambda e: sent.append(e.id)}, lambda: NOW)
    report = dispatcher.drain(NOW)
    assert len(report.delivered) == len(set(sent)) == 1000
    assert store.owed() == []


def test_the_drain_sends_several_at_once_and_stops_when_its_time_is_spent() -> None:
    store = MemoryStore()
    owed(store, 400)
    at_once, most = [0], [0]
    lock = threading.Lock()

    def slow(entry: OutboxEntry) -> None:
        with lock:
            at_once[0] += 1
            most[0] = max(most[0], at_once[0])
        time.sleep(0.01)  # an SNS call
        with lock:
            at_once[0] -= 1

    dispatcher = Dispatcher(store.outbox, {"sla_breach": slow}, lambda: NOW)
    report = dispatcher.drain(NOW, budget=0.05, workers=4, page=20)
    assert most[0] > 1  # in parallel
    assert 0 < len(report.delivered) < 400  # the budget ended it; the rest stays owed
    assert len(store.owed()) == 400 - len(report.delivered)


def test_an_entry_the_outbox_cannot_record_is_tried_once_per_drain() -> None:
    store = MemoryStore()
    owed(store, 3)
    calls: list[str] = []

    def refused(entry: OutboxEntry) -> None:
        calls.append(entry.id)
        raise ConnectionError("SNS throttled")

    dispatcher = Dispatcher(store.outbox, {"sla_breach": refused}, lambda: NOW)
    report = dispatcher.drain(NOW)
    assert sorted(calls) == sorted(e.id for e in report.retrying) and len(calls) == 3


def test_an_incidents_escalations_drained_at_once_page_the_lead_once() -> None:
    from chalicelib.domain.incidents import Incident
    from chalicelib.domain.tickets import AuditEvent
    from chalicelib.outbound.routing import INCIDENT_BREACH
    from chalicelib.status.fanout import IncidentEscalations

    store = MemoryStore()
    at = to_iso(NOW)
    incident = Incident("INC-1", "incident", ("email",), "Mail down", "investigating", at, at, "x")
    store.incidents.create(incident, AuditEvent("e", "INC-1", "opened", "x", at))
    with store._lock:
        for n in range(200):
            entry = OutboxEntry(
                f"{INCIDENT_BREACH}:T-{n:07d}:d",
                INCIDENT_BREACH,
                f"T-{n:07d}",
                {"incident": "INC-1"},
                at,
            )
            store._outbox[entry.id] = entry
    published: list[str] = []

    class Publisher:
        def publish(self, topic: str, kind: str, message: dict) -> None:
            published.append(kind)

    escalations = IncidentEscalations(store.incidents, Publisher(), "arn:escalations")
    dispatcher = Dispatcher(store.outbox, {INCIDENT_BREACH: escalations.send}, lambda: NOW)
    report = dispatcher.drain(NOW, workers=8)
    assert len(report.delivered) == 200 and published == [INCIDENT_BREACH]


def test_what_a_sender_owes_on_is_drained_in_the_same_drain() -> None:
    """A fan-out owes its next page as a new entry, due as it is written: the same
    drain reads it (a sweep a minute later did, one page a minute)."""
    store = MemoryStore()
    owed(store, 1, "incident_notify")
    pages: list[str] = []

    def page(entry: OutboxEntry) -> None:
        pages.append(entry.id)
        if len(pages) < 5:
            written = to_iso(NOW + timedelta(seconds=len(pages)))  # the clock moved on
            follow = OutboxEntry(
                f"incident_notify:T-0:{len(pages)}", entry.kind, "T-0", {}, written
            )
            with store._lock:
                store._outbox[follow.id] = follow

    later = NOW + timedelta(seconds=10)
    dispatcher = Dispatcher(store.outbox, {"incident_notify": page}, lambda: later)
    assert len(dispatcher.drain(NOW).delivered) == 5 and store.owed() == []


def test_what_is_sent_inside_settling_together_is_settled_once_at_its_end() -> None:
    """Issue 29: an incident's page of answers settles in one write. Entries sent
    meanwhile by another thread (the drain's other workers) settle on their own."""
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    store = MemoryStore()
    owed(store, 6)
    batches: list[int] = []
    outbox = store.outbox
    original = outbox.done_many

    def counting(delivered: list) -> None:  # type: ignore[type-arg]
        batches.append(len(delivered))
        original(delivered)

    outbox.done_many = counting  # type: ignore[method-assign]
    dispatcher = Dispatcher(outbox, {"sla_breach": lambda e: None}, lambda: NOW)
    entries = outbox.due(to_iso(NOW), 10)
    with dispatcher.settling_together(), ThreadPoolExecutor(2) as pool:
        tasks = [(copy_context(), e) for e in entries[:4]]
        list(pool.map(lambda t: t[0].run(dispatcher.deliver, t[1]), tasks))
        assert len(store.owed()) == 6  # sent, not yet settled
        threading.Thread(target=dispatcher.deliver, args=(entries[4],)).start()
        time.sleep(0.05)
        assert len(store.owed()) == 5  # another thread's send settled on its own
    assert batches == [4]
    assert [e.id for e in store.owed()] == [entries[5].id]
