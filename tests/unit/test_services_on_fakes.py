"""The use cases on in-memory fakes (tests/fakes.py): every channel through the one
pipeline, the cabinet's idempotent create, the desk and the sweep. No AWS, no moto."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.identity import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.chat import parse_transcript
from chalicelib.intake.mail.adapter import Notification
from chalicelib.staff.forms import parse_delay_notice_request
from chalicelib.timeutil import to_iso
from tests.fakes import FakeWorld, fake_world
from tests.samples import mail

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Moscow
ANNA = Principal(sub="sub-anna", email="anna@flowershop.example", groups=())
BORIS = Principal(sub="sub-boris", email="boris@example.com", groups=())
AGENT = Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}
OUTAGE = NewTicket(subject="Почта не работает", text="Письма не уходят, сервер отвечает 451.")


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def deliver(world: FakeWorld, raw: bytes, *, key: str = "", verdicts: dict | None = None) -> str:
    key = key or f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("unit-mail", key)] = raw
    note = Notification("unit-mail", key, "x@y.example", verdicts or PASS)
    return world.runtime.mail.process(note).record_id


def transcript(**change: object) -> dict:
    body: dict = {
        "id": "conv-1",
        "channel": "chat",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:10:00+03:00",
        "messages": [
            {"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Как сменить тариф?"},
            {"from": "operator", "at": "2026-11-24T12:02:00+03:00", "text": "В кабинете."},
        ],
    }
    body.update(change)
    return body


# -- cabinet (R1.4, R2.1) ------------------------------------------------------------------


def test_r1_4_a_cabinet_ticket_is_official_and_due_in_an_hour(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    assert ticket.official and ticket.channel == "cabinet" and ticket.customer == "sub-anna"
    assert ticket.sla is not None and ticket.sla.due_at == "2026-11-24T10:00:00.000+00:00"
    assert ticket.scope.label == "outage"
    assert world.store.open_count() == 1


def test_an_idempotent_replay_returns_the_first_ticket_and_creates_nothing(
    world: FakeWorld,
) -> None:
    first, created = world.runtime.cabinet.create_ticket(ANNA, OUTAGE, "key-1")
    again, replayed_created = world.runtime.cabinet.create_ticket(ANNA, OUTAGE, "key-1")
    assert created is True and replayed_created is False and again == first
    assert world.store.for_customer("sub-anna", 10, None).items[0].id == first["id"]
    assert len(world.store.for_customer("sub-anna", 10, None).items) == 1
    # Another customer's same key is another request.
    other, other_created = world.runtime.cabinet.create_ticket(BORIS, OUTAGE, "key-1")
    assert other_created and other["id"] != first["id"]


def test_a_retry_after_a_lost_response_finds_the_ticket_its_first_attempt_made(
    world: FakeWorld,
) -> None:
    first, _ = world.runtime.cabinet.create_ticket(ANNA, OUTAGE, "key-1")
    # The write committed but the answer was lost: the client retries with its key.
    again, _ = world.runtime.cabinet.create_ticket(ANNA, OUTAGE, "key-1")
    assert again["id"] == first["id"]
    assert len(world.store.for_customer("sub-anna", 10, None).items) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(world: FakeWorld) -> None:
    world.runtime.cabinet.create_ticket(ANNA, OUTAGE, "key-1")
    with pytest.raises(Conflict) as caught:
        world.runtime.cabinet.create_ticket(ANNA, NewTicket("Другое", "Совсем другое"), "key-1")
    assert caught.value.code == "idempotency_key_reused"


def test_a_customer_cannot_read_or_append_to_anothers_ticket(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    with pytest.raises(NotFound):
        world.runtime.cabinet.thread(BORIS, ticket.id)
    with pytest.raises(NotFound):
        world.runtime.cabinet.add_message(BORIS, ticket.id, "let me in")
    assert world.store.thread(ticket.id).messages == ()  # type: ignore[union-attr]


def test_r6_2_an_abusive_ticket_is_kept_and_management_told_once(world: FakeWorld) -> None:
    rude = NewTicket("Почта", "Вы там совсем охренели? Почта опять не работает, идиоты.")
    ticket = world.runtime.cabinet.open_ticket(ANNA, rude)
    assert "abusive" in ticket.scope.flags
    assert world.publisher.kinds() == ["abusive_request"]
    world.runtime.sweeper.run(at(5))
    assert world.publisher.kinds() == ["abusive_request"]  # once per request
    assert world.store.owed() == []


def test_r6_2_a_notice_that_cannot_be_sent_loses_no_ticket(world: FakeWorld) -> None:
    world.publisher.down = True
    rude = NewTicket("Почта", "Вы там совсем охренели? Почта опять не работает, идиоты.")
    ticket = world.runtime.cabinet.open_ticket(ANNA, rude)
    assert world.store.get(ticket.id) is not None
    assert [e.kind for e in world.store.owed()] == ["abusive_request"]
    world.publisher.down = False
    world.runtime.sweeper.run(at(2))  # the next sweep drains what is owed
    assert world.publisher.kinds() == ["abusive_request"]
    assert world.store.owed() == []


# -- e-mail (R1.4, R1.2) -------------------------------------------------------------------


def test_a_mail_is_an_advisory_record_linked_and_acknowledged_once(world: FakeWorld) -> None:
    key = "raw/one"
    raw = mail()
    for _ in range(3):  # SQS delivers at least once
        rid = deliver(world, raw, key=key)
    record = world.store.get(rid)
    assert record is not None and not record.official and record.sla is None
    assert record.customer == "sub-anna" and record.origin is not None
    assert record.origin.account == "sub-anna" and record.origin.ack == "sent"
    assert len(world.mailer.sent) == 1
    assert f"[#{rid}]" in str(world.mailer.sent[0]["Subject"])


def test_a_sender_failing_dmarc_is_neither_linked_nor_trusted(world: FakeWorld) -> None:
    rid = deliver(world, mail(), verdicts={**PASS, "dmarc": "FAIL"})
    record = world.store.get(rid)
    assert record is not None and record.customer == "unverified:anna@flowershop.example"
    assert "sender_unverified" in record.scope.flags


def test_machine_mail_is_recorded_and_never_answered(world: FakeWorld) -> None:
    rid = deliver(world, mail(Auto_Submitted="auto-replied"))
    record = world.store.get(rid)
    assert record is not None and record.origin is not None
    assert record.origin.disposition == "machine" and record.status == "closed"
    assert world.mailer.sent == []


def test_one_message_stored_twice_makes_one_record(world: FakeWorld) -> None:
    raw = mail()
    first, second = deliver(world, raw), deliver(world, raw)
    duplicate = world.store.get(second)
    assert duplicate is not None and duplicate.origin is not None
    assert duplicate.origin.disposition == "duplicate"
    assert duplicate.origin.reason == f"duplicate_of: {first}"
    assert len(world.mailer.sent) == 1


def test_a_reply_by_the_owner_joins_and_a_strangers_does_not(world: FakeWorld) -> None:
    first = deliver(world, mail())
    deliver(world, mail(subject=f"Re: [#{first}] Почта"))
    deliver(world, mail(sender="eve@evil.example", subject=f"Re: [#{first}] Почта"))
    thread = world.store.thread(first)
    assert thread is not None and len(thread.messages) == 1
    assert thread.messages[0].author == "customer"


def test_a_refused_acknowledgement_stays_owed_and_is_sent_by_a_later_sweep(
    world: FakeWorld,
) -> None:
    world.mailer.failures = 1
    rid = deliver(world, mail(), key="raw/ack")  # recorded whatever the mail service says
    assert world.store.get(rid).origin.ack == "owed"  # type: ignore[union-attr]
    assert [e.kind for e in world.store.owed()] == ["acknowledgement"]
    world.runtime.sweeper.run(at(2))
    assert world.store.get(rid).origin.ack == "sent"  # type: ignore[union-attr]
    assert len(world.mailer.sent) == 1 and world.store.owed() == []


def test_concurrent_redeliveries_acknowledge_once(world: FakeWorld) -> None:
    import threading

    raw = mail()
    threads = [
        threading.Thread(target=deliver, args=(world, raw), kwargs={"key": "raw/same"})
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.runtime.sweeper.run(at(5))
    assert len(world.mailer.sent) == 1


# -- chat (R1.5, R1.6) ---------------------------------------------------------------------


def test_r1_6_a_transcript_is_linked_by_the_account_email_given(world: FakeWorld) -> None:
    verified = {"customer_email": "anna@flowershop.example", "customer_email_verified": True}
    body, created = world.runtime.chat.record(parse_transcript(transcript(**verified)))
    again, created_again = world.runtime.chat.record(parse_transcript(transcript(**verified)))
    assert created and not created_again and again == body
    assert body["account"] == "sub-anna" and body["within_hours"] is True
    thread = world.store.thread(body["id"])
    assert thread is not None and [m.author for m in thread.messages] == ["customer", "operator"]


@pytest.mark.parametrize(
    ("email", "flag"),
    [
        (None, "account_email_missing"),
        ("nobody@example.com", "sender_unverified"),  # R1.7: a claim
        ("anna@flowershop.example", "sender_unverified"),
    ],
)
def test_r1_6_a_transcript_without_a_known_account_is_flagged(
    world: FakeWorld, email: str | None, flag: str
) -> None:
    change = {"customer_email": email} if email else {}
    body, _ = world.runtime.chat.record(parse_transcript(transcript(**change)))
    assert body["account"] is None and flag in body["scope"]["flags"]


# -- the desk and the sweep (R2) -----------------------------------------------------------


def test_r2_4_warned_at_46_breached_and_escalated_once_at_61(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    sweeper = world.runtime.sweeper
    assert sweeper.run(at(44)).warned == []
    assert sweeper.run(at(46)).warned == [ticket.id]
    report = sweeper.run(at(61))
    assert report.breached == [ticket.id] and report.escalated == [ticket.id]
    assert sweeper.run(at(62)).breached == []
    assert world.publisher.kinds() == ["sla_warning", "sla_breach"]


def test_r2_4_a_failed_escalation_is_parked_and_retried_once(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.publisher.down = True
    assert world.runtime.sweeper.run(at(61)).parked == [ticket.id]
    world.publisher.down = False
    assert world.runtime.sweeper.run(at(62)).escalated == [ticket.id]
    assert world.runtime.sweeper.run(at(63)).escalated == []


def test_r2_4_an_escalation_written_before_a_crash_is_sent_by_the_next_sweep(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)

    def crash(*_: object, **__: object) -> None:
        raise SystemExit("the sweep's Lambda was stopped")

    monkeypatch.setattr(world.runtime.dispatcher, "drain", crash)
    with pytest.raises(SystemExit):
        world.runtime.sweeper.run(at(61))
    monkeypatch.undo()
    assert [e.kind for e in world.store.owed()] == ["sla_breach"]
    report = world.runtime.sweeper.run(at(62))
    assert report.breached == [] and report.escalated == [ticket.id]
    assert world.publisher.kinds() == ["sla_breach"]


def test_r2_5_an_answer_after_the_deadline_is_a_breach_without_a_sweep(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(60.5)  # 30 s late; no sweep has run since +46
    world.runtime.desk.respond(AGENT, ticket.id, "Sorry, fixed now.")
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.sla is not None
    assert stored.sla.state == "breached"
    assert stored.sla.breached_at == "2026-11-24T10:00:00.000+00:00"
    assert stored.sla.first_response_at == "2026-11-24T10:00:30.000+00:00"
    assert world.publisher.kinds() == ["sla_breach"]  # escalated once, by the answer
    assert world.runtime.sweeper.run(at(62)).escalated == []
    assert world.store.open_count() == 0


def test_r2_5_a_delay_notice_after_the_deadline_leaves_the_breach_standing(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(61)
    request = parse_delay_notice_request({"reason": "Disk swap", "eta": at(180).isoformat()})
    world.runtime.desk.post_delay_notice(AGENT, ticket.id, request)
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.sla is not None
    assert stored.sla.state == "breached" and stored.sla.first_response_at is None
    assert world.publisher.kinds() == ["sla_breach"]
    assert [t.id for t in world.store.queue(10, None).items] == [ticket.id]  # still waiting


def test_r2_1_a_response_in_time_meets_the_deadline(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(20)
    world.runtime.desk.respond(AGENT, ticket.id, "Fixed.")
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.status == "answered"
    assert stored.sla is not None and stored.sla.state == "met"
    assert world.runtime.sweeper.run(at(90)).breached == []


def test_r2_2_a_delay_notice_moves_the_deadline_to_its_eta(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(30)
    request = parse_delay_notice_request({"reason": "Disk swap", "eta": at(180).isoformat()})
    world.runtime.desk.post_delay_notice(AGENT, ticket.id, request)
    assert world.runtime.sweeper.run(at(61)).breached == []
    assert world.runtime.sweeper.run(at(181)).breached == [ticket.id]


def test_advisory_records_carry_no_deadline(world: FakeWorld) -> None:
    rid = deliver(world, mail())
    with pytest.raises(Conflict):
        world.runtime.desk.post_delay_notice(
            AGENT, rid, parse_delay_notice_request({"reason": "r", "eta": at(300).isoformat()})
        )
    assert list(world.store.due(at(600), timedelta(minutes=15))) == []


# -- R2.5: every answer a customer waits for is timed ----------------------------------------


def test_r2_5_a_follow_up_on_an_answered_ticket_is_a_new_timed_wait(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(20)
    world.runtime.desk.respond(AGENT, ticket.id, "Перезапустили почтовый сервер.")
    assert world.store.queue(10, None).items == ()
    world.clock.now = at(100)
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Нет, письма всё ещё не уходят: 451.")
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.status == "open" and stored.sla is not None
    assert stored.sla.state == "pending" and stored.sla.due_at == to_iso(at(160))
    [first] = stored.sla.history
    assert (first.state, first.responded_at) == ("met", to_iso(at(20)))
    assert [t.id for t in world.store.queue(10, None).items] == [ticket.id]
    report = world.runtime.sweeper.run(at(161))  # left alone, it breaches and escalates
    assert report.breached == [ticket.id] and report.escalated == [ticket.id]


def test_r2_5_a_follow_up_while_staff_still_owe_an_answer_keeps_the_deadline(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(10)
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Добавлю: с утра так.")
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.sla == ticket.sla


def test_a_message_to_a_closed_ticket_is_409(world: FakeWorld) -> None:
    from chalicelib.domain.tickets import AuditEvent
    from chalicelib.storage import SetStatus

    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.store.change(
        ticket.id,
        AuditEvent("E-1", ticket.id, "closed", "test", to_iso(at(1))),
        SetStatus(replace(ticket, status="closed"), "open"),
    )
    with pytest.raises(Conflict) as caught:
        world.runtime.cabinet.add_message(ANNA, ticket.id, "Ещё вопрос")
    assert caught.value.code == "ticket_closed"


def test_r2_5_a_follow_up_read_before_an_answer_that_lands_first_is_decided_again(
    world: FakeWorld,
) -> None:
    """The race of a customer's follow-up and a staff answer: the follow-up, computed
    from the ticket as it was before the answer, must not leave the ticket open without
    a deadline; its write fails and, read again, it is a new wait."""
    from chalicelib.domain.tickets import AuditEvent
    from chalicelib.lifecycle import customer_wrote
    from chalicelib.storage import StaleState

    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    stale = world.store.get(ticket.id)
    assert stale is not None
    world.clock.now = at(10)
    world.runtime.desk.respond(AGENT, ticket.id, "Перезапустили.")
    audit = AuditEvent("E-RACE", ticket.id, "customer_message", ANNA.sub, to_iso(at(10)))
    with pytest.raises(StaleState):
        world.store.change(ticket.id, audit, *customer_wrote(stale, at(10), 60))
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Нет, всё ещё не работает.")
    after = world.store.get(ticket.id)
    assert after is not None and after.status == "open" and after.sla is not None
    assert after.sla.state == "pending" and [w.state for w in after.sla.history] == ["met"]
    assert [t.id for t in world.store.queue(10, None).items] == [ticket.id]
