"""One contract for storage, held by DynamoDB (on moto, tables from infrastructure/)
and by the in-memory fake the service unit tests use: if the fake drifts from DynamoDB,
these fail. The Chalice todo sample keeps its two `db` implementations honest this way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.clock import after_staff_response, breached, first_response_deadline
from chalicelib.domain.incidents import Incident, IncidentUpdate
from chalicelib.domain.people import StaffRef
from chalicelib.domain.tickets import (
    Attachment,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    Origin,
    OutboxEntry,
    Scope,
    Ticket,
)
from chalicelib.ids import new_event_id
from chalicelib.storage import (
    AddAttachment,
    AddDelayNotice,
    AlreadyRecorded,
    AppendMessage,
    Assign,
    CorrectScope,
    DuplicateMail,
    Enqueue,
    LinkIncident,
    MoveClock,
    NotSuppressed,
    RecordReply,
    SendRefused,
    SetStatus,
    Settle,
    SpendAllowance,
    StaleState,
    Store,
    Unchanged,
)
from chalicelib.timeutil import to_iso
from tests.fakes import MemoryStore

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WARNING = timedelta(minutes=15)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore().as_store()
        return
    import boto3
    from moto import mock_aws

    from chalicelib.storage.dynamo import dynamo_store
    from devtools.resources import create_tables

    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        names = {"SUPPORT_TABLE_NAME": "contract"}
        create_tables(client, names)
        yield dynamo_store(client, "contract")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def official(number: int, *, customer: str = "sub-a", minutes: float = 0) -> Ticket:
    created = at(minutes)
    return Ticket(
        id=f"T-{number:07d}",
        channel="cabinet",
        official=True,
        status="open",
        subject=f"Request {number}",
        text="MySQL is down",
        created_at=to_iso(created),
        updated_at=to_iso(created),
        customer=customer,
        customer_email=f"{customer}@example.com",
        scope=Scope("outage", "mysql"),
        sla=first_response_deadline(created, 60),
    )


def advisory(record_id: str = "E-00000001", **origin: Any) -> Ticket:
    return Ticket(
        id=record_id,
        channel="email",
        official=False,
        status="open",
        subject="Question",
        text="How do I change my plan?",
        created_at=to_iso(T0),
        updated_at=to_iso(T0),
        customer="email:anna@example.com",
        customer_email="anna@example.com",
        scope=Scope("consultation"),
        origin=Origin(source_ref=f"s3://mail/raw/{record_id}", **origin),
    )


def audit(request_id: str, minutes: float = 0, action: str = "test") -> AuditEvent:
    return AuditEvent(new_event_id(), request_id, action, "tester", to_iso(at(minutes)))


def message(request_id: str, minutes: float, text: str = "hello", mid: str = "") -> Message:
    return Message(
        mid or new_event_id(), request_id, "customer", "sub-a", text, to_iso(at(minutes))
    )


def create(store: Store, ticket: Ticket, **kwargs: Any) -> Ticket:
    store.tickets.create(ticket, audit(ticket.id, action="created"), **kwargs)
    return ticket


# -- requests ---------------------------------------------------------------------------


def test_a_request_reads_back_as_it_was_written(store: Store) -> None:
    ticket = create(store, official(1))
    record = create(
        store,
        advisory(within_hours=False, message_id="m1@example.com", ack="owed"),
        conversation=[message("E-00000001", 1, "first", "E-00000001-0000")],
    )
    assert store.tickets.get(ticket.id) == ticket
    thread = store.tickets.thread(record.id)
    assert thread is not None
    assert replace(thread.ticket, message_count=0) == replace(record, message_count=0)
    assert [m.text for m in thread.messages] == ["first"]
    assert store.tickets.get("T-NOTHERE") is None and store.tickets.thread("T-NOTHERE") is None


def test_an_id_is_taken_once(store: Store) -> None:
    create(store, official(1))
    with pytest.raises(AlreadyRecorded):
        create(store, replace(official(1), subject="another"))
    assert store.tickets.get("T-0000001").subject == "Request 1"  # type: ignore[union-attr]


def test_a_mail_identity_names_the_record_that_holds_it(store: Store) -> None:
    create(store, advisory("E-00000001"), identity="same-message")
    with pytest.raises(DuplicateMail) as caught:
        create(store, advisory("E-00000002"), identity="same-message")
    assert caught.value.original == "E-00000001"
    assert store.tickets.ticket_for_mail("same-message") == "E-00000001"
    assert store.tickets.get("E-00000002") is None


def test_a_customer_lists_only_their_own_newest_first_in_pages(store: Store) -> None:
    for number in range(7):
        create(store, official(number, minutes=number))
    create(store, official(99, customer="sub-b"))
    seen: list[str] = []
    token = None
    while True:
        page = store.tickets.for_customer("sub-a", 3, token)
        seen += [t.id for t in page.items]
        if page.next is None:
            break
        token = page.next
    assert seen == [f"T-{n:07d}" for n in reversed(range(7))]


def test_changes_apply_together_with_their_audit_event(store: Store) -> None:
    ticket = create(store, official(1))
    notice = DelayNotice("D-1", ticket.id, "Disk swap", to_iso(at(180)), to_iso(at(5)), "agent")
    store.tickets.change(
        ticket.id,
        audit(ticket.id, 5, "staff_response"),
        AppendMessage(message(ticket.id, 5, "on it")),
        AddDelayNotice(notice),
        SetStatus(replace(ticket, status="answered"), "open"),
    )
    thread = store.tickets.thread(ticket.id)
    assert thread is not None
    assert thread.ticket.status == "answered" and thread.ticket.message_count == 1
    assert thread.ticket.updated_at == to_iso(at(5))
    assert [m.text for m in thread.messages] == ["on it"]
    assert thread.delay_notices == (notice,)
    assert [e.action for e in store.tickets.audit_trail(ticket.id)] == [
        "created",
        "staff_response",
    ]


def test_only_the_owner_appends_and_a_refused_change_writes_nothing(store: Store) -> None:
    ticket = create(store, official(1))
    with pytest.raises(StaleState):
        store.tickets.change(
            ticket.id,
            audit(ticket.id, 1),
            AppendMessage(message(ticket.id, 1), owner="sub-b"),
            SetStatus(replace(ticket, status="open"), "open"),
        )
    with pytest.raises(StaleState):
        store.tickets.change(
            "T-NOTHERE", audit("T-NOTHERE", 1), SetStatus(replace(ticket, id="T-NOTHERE"), "open")
        )
    assert store.tickets.get(ticket.id) == ticket
    assert len(store.tickets.audit_trail(ticket.id)) == 1


def test_a_clock_moves_only_from_the_state_that_was_read(store: Store) -> None:
    ticket = create(store, official(1))
    assert ticket.sla is not None
    answered = after_staff_response(ticket.sla, at(10))
    store.tickets.change(ticket.id, audit(ticket.id, 10), MoveClock(ticket.sla, answered, ticket))
    with pytest.raises(StaleState):  # a sweep that read the old clock loses
        store.tickets.change(
            ticket.id,
            audit(ticket.id, 61),
            MoveClock(ticket.sla, breached(ticket.sla, at(61)), ticket),
        )
    assert store.tickets.get(ticket.id).sla == answered  # type: ignore[union-attr]


def test_a_reply_is_recorded_once_and_joins_once(store: Store) -> None:
    target = create(store, advisory("E-00000001"))
    reply = replace(advisory("E-00000002"), status="closed")

    def join(record: Ticket, identity: str) -> None:
        store.tickets.change(
            target.id,
            audit(target.id, 5, "email_reply"),
            RecordReply(record, identity),
            AppendMessage(message(target.id, 5, "thanks", f"{record.id}-0000")),
        )

    join(reply, "reply-message")
    with pytest.raises(AlreadyRecorded):
        join(reply, "reply-message")  # the same object delivered again
    with pytest.raises(DuplicateMail) as caught:
        join(replace(reply, id="E-00000003"), "reply-message")  # stored twice by SES
    assert caught.value.original == "E-00000002"
    thread = store.tickets.thread(target.id)
    assert thread is not None and len(thread.messages) == 1
    assert store.tickets.get("E-00000002") is not None


def test_an_acknowledgement_is_settled_only_while_owed(store: Store) -> None:
    create(store, advisory(ack="owed"))
    store.tickets.settle_ack("E-00000001", "sent")
    store.tickets.settle_ack("E-00000001", "rate_limited")
    found = store.tickets.get("E-00000001")
    assert found is not None and found.origin is not None and found.origin.ack == "sent"


def test_scope_corrections_are_kept_and_exported(store: Store) -> None:
    ticket = create(store, official(1))
    correction = {
        "label": "consultation",
        "sub": None,
        "by": "agent",
        "at": to_iso(at(3)),
        "classifier": {"label": "outage", "sub": "mysql"},
    }
    store.tickets.change(ticket.id, audit(ticket.id, 3), CorrectScope(correction, ticket))
    assert store.tickets.get(ticket.id).scope_correction == correction  # type: ignore[union-attr]
    [case] = list(store.tickets.corrections())
    assert case["id"] == ticket.id and case["label"] == "consultation"


# -- the deadline index -------------------------------------------------------------------


def test_due_gives_warnings_and_breaches_when_they_are_due(store: Store) -> None:
    fresh, warn, late = official(1, minutes=30), official(2, minutes=-50), official(3, minutes=-61)
    for ticket in (fresh, warn, late, advisory()):
        create(store, ticket)
    assert sorted(t.id for t in store.deadlines.due(at(0), WARNING)) == [warn.id, late.id]
    assert store.deadlines.open_count() == 3


def test_an_answered_request_leaves_the_index(store: Store) -> None:
    ticket = create(store, official(1, minutes=-61))
    assert ticket.sla is not None
    answered = after_staff_response(ticket.sla, at(0))
    store.tickets.change(
        ticket.id,
        audit(ticket.id),
        MoveClock(ticket.sla, answered, ticket),
        SetStatus(replace(ticket, status="answered", sla=answered), "open"),
    )
    assert list(store.deadlines.due(at(0), WARNING)) == []
    assert store.deadlines.queue(10, None).items == ()
    assert store.deadlines.open_count() == 0


def test_a_breach_owes_its_escalation_in_the_same_write(store: Store) -> None:
    ticket = create(store, official(1, minutes=-61))
    assert ticket.sla is not None
    entry = OutboxEntry(
        f"sla_breach:{ticket.id}:x", "sla_breach", ticket.id, {"n": 1}, to_iso(at(-1))
    )
    late = breached(ticket.sla, at(0))
    store.tickets.change(
        ticket.id, audit(ticket.id), MoveClock(ticket.sla, late, ticket), Enqueue(entry)
    )
    assert store.outbox.due(to_iso(at(0)), 10) == [entry]
    with pytest.raises(StaleState):  # a second sweep neither breaches nor owes again
        store.tickets.change(
            ticket.id, audit(ticket.id), MoveClock(ticket.sla, late, ticket), Enqueue(entry)
        )
    assert store.outbox.due(to_iso(at(0)), 10) == [entry]


def test_the_queue_puts_breaches_first_then_by_due_time_in_complete_pages(store: Store) -> None:
    tickets = [create(store, official(n, minutes=n * 7 - 100)) for n in range(10)]
    first = tickets[0]
    assert first.sla is not None
    store.tickets.change(
        first.id, audit(first.id), MoveClock(first.sla, breached(first.sla, at(0)), first)
    )
    seen: list[str] = []
    token = None
    while True:
        page = store.deadlines.queue(3, token)
        seen += [t.id for t in page.items]
        if page.next is None:
            break
        token = page.next
    assert seen == [t.id for t in tickets]


def test_foreign_page_tokens_are_refused(store: Store) -> None:
    from chalicelib.errors import InvalidInput

    with pytest.raises(InvalidInput):
        store.deadlines.queue(3, "bm90IGEgdG9rZW4")
    with pytest.raises(InvalidInput):
        store.tickets.for_customer("sub-a", 3, "bm90IGEgdG9rZW4")


# -- markers -------------------------------------------------------------------------------


def test_a_sender_gets_a_bounded_number_of_acknowledgements_a_day(store: Store) -> None:
    markers = store.markers
    now = to_iso(T0)
    assert [markers.take_ack_allowance("A@x.example", now, 2, f"E-{n}") for n in range(3)] == [
        True,
        True,
        False,
    ]
    assert markers.take_ack_allowance("a@x.example", now, 2, "E-0") is True  # same record
    markers.release_ack_allowance("a@x.example", now, "E-1")
    assert markers.take_ack_allowance("a@x.example", now, 2, "E-2") is True
    tomorrow = to_iso(T0 + timedelta(hours=25))
    assert markers.take_ack_allowance("a@x.example", tomorrow, 2, "E-3") is True


def test_an_allowance_spent_with_a_write_holds_while_the_list_has_room(store: Store) -> None:
    """A sender's allowance may be spent in the write that owes the mail: the write is
    refused whole when the list is full (stale entries counted), and the long way
    (`take_ack_allowance`) then drops what is a day old."""
    now = to_iso(T0)
    for n in range(2):
        spend = SpendAllowance("ack", "A@x.example", now, 2, f"E-0000000{n}")
        create(store, advisory(f"E-0000000{n}"), guards=[spend])
    full = SpendAllowance("ack", "a@x.example", now, 2, "E-00000002")
    with pytest.raises(SendRefused):
        create(store, advisory("E-00000002"), guards=[full])
    assert store.tickets.get("E-00000002") is None  # refused whole
    assert store.markers.take_ack_allowance("a@x.example", now, 2, "E-00000000") is True
    assert store.markers.take_ack_allowance("a@x.example", now, 2, "E-00000002") is False
    tomorrow = to_iso(T0 + timedelta(hours=25))
    stale = SpendAllowance("ack", "a@x.example", tomorrow, 2, "E-00000003")
    with pytest.raises(SendRefused):
        create(store, advisory("E-00000003"), guards=[stale])
    assert store.markers.take_ack_allowance("a@x.example", tomorrow, 2, "E-00000003") is True
    fresh = SpendAllowance("ack", "a@x.example", tomorrow, 2, "E-00000004")
    create(store, advisory("E-00000004"), guards=[fresh])
    assert store.markers.take_ack_allowance("a@x.example", tomorrow, 2, "E-00000005") is False


def test_a_change_guarded_against_a_suppressed_address_writes_nothing(store: Store) -> None:
    create(store, official(1))
    store.markers.suppress("anna@x.example", "bounced", to_iso(T0))
    answer = replace(message("T-0000001", 1, "answer"), author="staff", author_id="sub-s")
    with pytest.raises(SendRefused):
        store.tickets.change(
            "T-0000001",
            audit("T-0000001", 1),
            AppendMessage(answer),
            NotSuppressed("ANNA@x.example"),
        )
    thread = store.tickets.thread("T-0000001")
    assert thread is not None and thread.messages == ()
    send = SpendAllowance("send", "boris@x.example", to_iso(at(1)), 5, "customer_mail:T:1")
    store.tickets.change(
        "T-0000001",
        audit("T-0000001", 1),
        AppendMessage(answer),
        NotSuppressed("b@x.example"),
        send,
    )
    assert store.markers.take_send_allowance("boris@x.example", to_iso(at(2)), 2, "x") is True
    assert store.markers.take_send_allowance("boris@x.example", to_iso(at(2)), 2, "y") is False


def test_a_change_decided_on_a_remembered_request_holds_only_if_it_is_unchanged(
    store: Store,
) -> None:
    ticket = create(store, official(1))
    store.tickets.change("T-0000001", audit("T-0000001", 1), AppendMessage(message("T-0000001", 1)))
    with pytest.raises(StaleState):
        store.tickets.change(
            "T-0000001",
            audit("T-0000001", 2),
            AppendMessage(message("T-0000001", 2)),
            Unchanged(ticket.updated_at),
        )
    now = store.tickets.get("T-0000001")
    assert now is not None and now.message_count == 1
    store.tickets.change(
        "T-0000001",
        audit("T-0000001", 2),
        AppendMessage(message("T-0000001", 2)),
        Unchanged(now.updated_at),
    )


def test_a_keyed_create_keeps_its_receipt_and_the_request_as_made(store: Store) -> None:
    ticket = create(store, official(1), receipt="digest-1")
    assert store.tickets.receipt(ticket.id) == ("digest-1", ticket)
    store.tickets.change("T-0000001", audit("T-0000001", 1), AppendMessage(message("T-0000001", 1)))
    assert store.tickets.receipt(ticket.id) == ("digest-1", ticket)  # as made, not as now
    thread = store.tickets.thread(ticket.id)
    assert thread is not None and len(thread.messages) == 1  # the receipt is no message
    with pytest.raises(AlreadyRecorded):
        create(store, official(1), receipt="digest-2")
    assert store.tickets.receipt(ticket.id) == ("digest-1", ticket)
    assert store.tickets.receipt("T-0000002") is None


def test_a_delivered_entry_leaves_its_settlement_in_the_same_write(store: Store) -> None:
    record = replace(advisory(), origin=Origin(source_ref="s3://mail/raw/1", ack="owed"))
    entry = OutboxEntry("acknowledgement:E-00000001:1", "acknowledgement", record.id, {}, "t0")
    create(store, record, outbox=[entry])
    store.outbox.done(entry, Settle(record.id, ack="sent"))
    stored = store.tickets.get(record.id)
    assert stored is not None and stored.origin is not None and stored.origin.ack == "sent"
    assert store.outbox.due("t9", 10) == []
    create(store, official(1))
    answer = replace(message("T-0000001", 1, "answer"), author="staff", author_id="sub-s")
    mail = OutboxEntry("customer_mail:T-0000001:1", "customer_mail", "T-0000001", {}, "t1")
    store.tickets.change("T-0000001", audit("T-0000001", 1), AppendMessage(answer), Enqueue(mail))
    delivery = Delivery("sent", "a@x.example", to_iso(at(2)), message_id="ses-1")
    store.outbox.done(mail, Settle("T-0000001", item=answer, delivery=delivery))
    thread = store.tickets.thread("T-0000001")
    assert thread is not None and thread.messages[0].delivery == delivery
    assert store.outbox.due("t9", 10) == []


def test_many_delivered_entries_settle_together_and_a_gone_one_keeps_none_owed(
    store: Store,
) -> None:
    """Issue 29: a fan-out's page settles in one write; a request deleted meanwhile
    (its settlement's condition fails) does not leave the others owed."""
    delivered = []
    for n in (1, 2, 3):
        create(store, official(n))
        tid = f"T-000000{n}"
        answer = replace(message(tid, 1, "answer"), author="staff", author_id="sub-s")
        mail = OutboxEntry(f"customer_mail:{tid}:1", "customer_mail", tid, {}, "t1")
        store.tickets.change(tid, audit(tid, 1), AppendMessage(answer), Enqueue(mail))
        delivery = Delivery("sent", f"{n}@x.example", to_iso(at(2)), message_id=f"ses-{n}")
        delivered.append((mail, Settle(tid, item=answer, delivery=delivery)))
    store.outbox.done_many(delivered[:2])
    assert [e.id for e in store.outbox.due("t9", 10)] == ["customer_mail:T-0000003:1"]
    for n in (1, 2):
        thread = store.tickets.thread(f"T-000000{n}")
        assert thread is not None and thread.messages[0].delivery == delivered[n - 1][1].delivery
    gone = (
        OutboxEntry("customer_mail:T-0000009:1", "customer_mail", "T-0000009", {}, "t1"),
        Settle("T-0000009", item=message("T-0000009", 1, "x"), delivery=delivered[0][1].delivery),
    )
    store.outbox.done_many([delivered[2], gone])
    assert store.outbox.due("t9", 10) == []
    thread = store.tickets.thread("T-0000003")
    assert thread is not None and thread.messages[0].delivery == delivered[2][1].delivery


def test_the_moto_tables_come_from_the_infrastructure_definitions() -> None:
    # The dynamodb variant builds its table with devtools.resources.create_tables, which
    # reads infrastructure/resources.json: there is no second copy of the schema.
    import json
    from pathlib import Path

    resources = json.loads(
        (Path(__file__).parents[2] / "infrastructure" / "resources.json").read_text()
    )["Resources"]
    assert "SupportTable" in resources
    assert os.path.exists(Path(__file__).parents[2] / "devtools" / "resources.py")


# -- the outbox --------------------------------------------------------------------------


def owed_with(store: Store, entry: OutboxEntry) -> None:
    create(store, official(1), outbox=[entry])


def test_an_outbox_entry_is_written_with_its_request_or_not_at_all(store: Store) -> None:
    entry = OutboxEntry("abusive_request:T-0000001:1", "abusive_request", "T-0000001", {}, "t0")
    owed_with(store, entry)
    with pytest.raises(AlreadyRecorded):
        create(store, official(1), outbox=[entry])
    assert store.outbox.due("t9", 10) == [entry]
    assert store.outbox.due("s", 10) == []  # not due before its time


def test_one_sender_at_a_time_holds_an_entry_and_a_lease_runs_out(store: Store) -> None:
    entry = OutboxEntry("k:T-0000001:1", "k", "T-0000001", {"a": 1}, "t0")
    owed_with(store, entry)
    claimed = store.outbox.claim(entry, "t5")
    assert claimed is not None and claimed.attempts == 1 and claimed.due_at == "t5"
    assert store.outbox.claim(entry, "t6") is None  # another sender read it before
    assert store.outbox.due("t4", 10) == []  # held
    assert store.outbox.due("t5", 10) == [claimed]  # the holder died: it is due again
    store.outbox.done(claimed)
    assert store.outbox.due("t9", 10) == []


def test_a_failed_entry_is_retried_later_and_set_aside_in_the_end(store: Store) -> None:
    entry = OutboxEntry("k:T-0000001:1", "k", "T-0000001", {}, "t0")
    owed_with(store, entry)
    claimed = store.outbox.claim(entry, "t5")
    assert claimed is not None
    store.outbox.reschedule(claimed, "t7", "ConnectionError: down")
    [again] = store.outbox.due("t7", 10)
    assert again.due_at == "t7" and again.last_error == "ConnectionError: down"
    last = store.outbox.claim(again, "t8")
    assert last is not None and last.attempts == 2
    store.outbox.give_up(last, "still down", "t8")
    assert store.outbox.due("t9", 10) == []
    [aside] = store.outbox.given_up()
    assert aside.id == entry.id and aside.last_error == "still down"


def test_a_retry_due_exactly_when_its_lease_ends_is_kept(store: Store) -> None:
    entry = OutboxEntry("k:T-0000001:1", "k", "T-0000001", {}, "t0")
    owed_with(store, entry)
    claimed = store.outbox.claim(entry, "t5")
    assert claimed is not None
    store.outbox.reschedule(claimed, "t5", "down")
    [again] = store.outbox.due("t5", 10)
    assert again.last_error == "down" and again.attempts == 1


def test_the_audit_trail_pages_oldest_first(store: Store) -> None:
    ticket = create(store, official(1))
    for minute in range(1, 6):
        store.tickets.change(
            ticket.id, audit(ticket.id, minute, f"step{minute}"), SetStatus(ticket, "open")
        )
    seen, token = [], None
    while True:
        events, token = store.tickets.events(ticket.id, 2, token)
        seen += [e.action for e in events]
        if token is None:
            break
    assert seen == ["created", "step1", "step2", "step3", "step4", "step5"]


def test_a_message_id_is_used_once_per_request_whatever_its_time(store: Store) -> None:
    ticket = create(store, official(1))
    store.tickets.change(
        ticket.id, audit(ticket.id, 1), AppendMessage(message(ticket.id, 1, "a", "M-SAME"))
    )
    with pytest.raises(AlreadyRecorded):
        store.tickets.change(
            ticket.id, audit(ticket.id, 2), AppendMessage(message(ticket.id, 2, "a", "M-SAME"))
        )
    thread = store.tickets.thread(ticket.id)
    assert thread is not None and [m.id for m in thread.messages] == ["M-SAME"]


# -- attachments -----------------------------------------------------------------------


def file_on(ticket: Ticket, n: int) -> Attachment:
    return Attachment(
        id=f"A-{n:012d}",
        ticket_id=ticket.id,
        name=f"shot{n}.png",
        content_type="image/png",
        size=100 + n,
        state="pending",
        s3_key=f"attachments/{ticket.id}/A-{n:012d}",
        created_at=to_iso(at(n)),
        expires_at=to_iso(at(n + 15)),
        by=ticket.customer,
    )


def test_attachments_fill_their_places_and_a_rejection_frees_one(store: Store) -> None:
    ticket = create(store, official(1))
    files = [file_on(ticket, n) for n in range(4)]
    for each in files[:3]:
        store.tickets.change(ticket.id, audit(ticket.id), AddAttachment(each, 3))
    with pytest.raises(StaleState):  # full
        store.tickets.change(ticket.id, audit(ticket.id), AddAttachment(files[3], 3))
    stored = replace(files[0], state="stored", checked_at=to_iso(at(5)))
    assert store.tickets.settle_attachment(stored, audit(ticket.id))
    assert not store.tickets.settle_attachment(stored, audit(ticket.id))  # settled once
    rejected = replace(files[1], state="rejected", reason="type_mismatch", checked_at="x")
    assert store.tickets.settle_attachment(rejected, audit(ticket.id))
    store.tickets.change(ticket.id, audit(ticket.id), AddAttachment(files[3], 3))
    thread = store.tickets.thread(ticket.id)
    assert thread is not None
    assert [(a.id, a.state) for a in thread.attachments] == [
        (files[0].id, "stored"),
        (files[1].id, "rejected"),
        (files[2].id, "pending"),
        (files[3].id, "pending"),
    ]
    assert store.tickets.attachment(ticket.id, files[1].id) == rejected


def test_no_attachment_is_added_to_a_closed_ticket(store: Store) -> None:
    ticket = create(store, replace(official(1), status="closed"))
    with pytest.raises(StaleState):
        store.tickets.change(ticket.id, audit(ticket.id), AddAttachment(file_on(ticket, 1), 10))


# -- incidents -----------------------------------------------------------------------


def an_incident(n: int, state: str = "investigating") -> Incident:
    return Incident(
        id=f"I-{n:010d}",
        kind="incident",
        services=("mysql",),
        title=f"MySQL {n}",
        state=state,
        created_at=to_iso(at(n)),
        updated_at=to_iso(at(n)),
        created_by="agent",
        updates=(IncidentUpdate(f"E-{n}", to_iso(at(n)), "agent", "Разбираемся", state),),
    )


def test_an_incident_saves_only_from_the_version_it_was_read(store: Store) -> None:
    store.incidents.create(an_incident(1), audit("I-0000000001"))
    with pytest.raises(AlreadyRecorded):
        store.incidents.create(an_incident(1), audit("I-0000000001"))
    read = store.incidents.get("I-0000000001")
    assert read is not None and read.version == 0
    saved = store.incidents.save(replace(read, state="identified"), audit(read.id))
    assert saved.state == "identified" and saved.version == 1
    with pytest.raises(StaleState):  # a second writer that read version 0 loses
        store.incidents.save(replace(read, state="monitoring"), audit(read.id))
    resolved = store.incidents.save(replace(saved, state="resolved"), audit(read.id))
    store.incidents.create(an_incident(2), audit("I-0000000002"))
    assert [i.id for i in store.incidents.active()] == ["I-0000000002"]
    past, token = store.incidents.past(10, None)
    assert [i.id for i in past] == [resolved.id] and token is None


def test_one_escalation_claim_per_incident_and_links_counted(store: Store) -> None:
    store.incidents.create(an_incident(1), audit("I-0000000001"))
    assert store.incidents.claim_escalation("I-0000000001", "entry-a")
    assert store.incidents.claim_escalation("I-0000000001", "entry-a")  # its retry
    assert not store.incidents.claim_escalation("I-0000000001", "entry-b")
    first = create(store, replace(official(1), incident="I-0000000001"))
    second = create(store, official(2))
    store.tickets.change(second.id, audit(second.id), LinkIncident("I-0000000001", second))
    with pytest.raises(StaleState):  # linked as it was read: no more
        store.tickets.change(second.id, audit(second.id), LinkIncident(None, second))
    page = store.incidents.linked("I-0000000001", 1, None)
    assert [t.id for t in page.items] == [first.id] and page.next
    rest = store.incidents.linked("I-0000000001", 1, page.next)
    assert [t.id for t in rest.items] == [second.id]
    assert store.incidents.get("I-0000000001").linked == 2  # type: ignore[union-attr]
    linked_second = store.tickets.get(second.id)
    assert linked_second is not None
    store.tickets.change(second.id, audit(second.id), LinkIncident(None, linked_second))
    assert store.incidents.get("I-0000000001").linked == 1  # type: ignore[union-attr]


def test_an_assignment_holds_only_from_the_assignee_read_and_moves_its_queue(
    store: Store,
) -> None:
    """API.md, Working as a team: two agents assigning at once cannot both win, and the
    queue's `assignee` facet follows each assignment."""
    olga, ivan = StaffRef("sub-olga", "Olga"), StaffRef("sub-ivan", "Ivan")
    ticket, other = create(store, official(1)), create(store, official(2, minutes=1))
    store.tickets.change(ticket.id, audit(ticket.id, 1, "assigned"), Assign(olga, ticket))
    with pytest.raises(StaleState):  # read before Olga took it
        store.tickets.change(ticket.id, audit(ticket.id, 2, "assigned"), Assign(ivan, ticket))
    stored = store.tickets.get(ticket.id)
    assert stored is not None and stored.assignee == olga
    assert [t.id for t in store.deadlines.queue(10, None, assignee="sub-olga").items] == [ticket.id]
    assert [t.id for t in store.deadlines.queue(10, None, assignee="-").items] == [other.id]
    store.tickets.change(ticket.id, audit(ticket.id, 3, "assigned"), Assign(None, stored))
    assert store.deadlines.queue(10, None, assignee="sub-olga").items == ()
    assert {t.id for t in store.deadlines.queue(10, None, assignee="-").items} == {
        ticket.id,
        other.id,
    }


def test_a_note_is_no_turn_and_an_answer_holds_only_on_the_turns_read(store: Store) -> None:
    ticket = create(store, official(1))
    note = replace(message(ticket.id, 1, "VIP"), id="M-NOTE", author="staff", kind="note")
    store.tickets.change(ticket.id, audit(ticket.id, 1, "note_added"), AppendMessage(note))
    stored = store.tickets.get(ticket.id)
    assert stored is not None and stored.message_count == 0 and stored.last_message_at is None
    said = message(ticket.id, 2, "also this")
    store.tickets.change(ticket.id, audit(ticket.id, 2), AppendMessage(said, turns=0))
    stored = store.tickets.get(ticket.id)
    assert stored is not None and stored.message_count == 1
    assert stored.last_message_at == said.at and stored.last_message_by == "customer"
    late = replace(message(ticket.id, 3, "answer"), id="M-LATE", author="staff")
    with pytest.raises(StaleState):  # written for a conversation of no turns
        store.tickets.change(ticket.id, audit(ticket.id, 3), AppendMessage(late, turns=0))
    thread = store.tickets.thread(ticket.id)
    assert thread is not None and [m.kind for m in thread.messages] == ["note", "message"]


def test_search_finds_by_every_term_newest_first_in_bounded_pages(store: Store) -> None:
    mail = replace(official(1), subject="Почта", text="Письма не уходят с домена")
    site = replace(official(2, minutes=1), subject="Сайт", text="Сайт отдаёт 502, письма тоже")
    for ticket in (mail, site):
        create(store, ticket)
    everyone = store.tickets.search(["письм"], 10, None, lambda t: True)
    assert [t.id for t in everyone.items] == [site.id, mail.id] and everyone.next is None
    assert [
        t.id for t in store.tickets.search(["письм", "502"], 10, None, lambda t: True).items
    ] == [site.id]
    first = store.tickets.search(["письм"], 1, None, lambda t: True)
    assert [t.id for t in first.items] == [site.id] and first.next is not None
    rest = store.tickets.search(["письм"], 1, first.next, lambda t: True)
    assert [t.id for t in rest.items] == [mail.id]
    kept = store.tickets.search(["письм"], 10, None, lambda t: t.id == mail.id)
    assert [t.id for t in kept.items] == [mail.id]
