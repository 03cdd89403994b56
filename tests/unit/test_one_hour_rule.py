"""The one-hour rule cannot be gamed (R2.7, R2.8) and every customer message is judged
(R6.2). On fakes (no AWS)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.clock import Duty, duty
from chalicelib.domain.identity import Principal
from chalicelib.domain.tickets import DelayNoticeRequest
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.adapter import Notification
from tests.fakes import FakeWorld, fake_world
from tests.samples import mail

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ANNA = Principal(sub="sub-anna", email=None, groups=())
AGENT = Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}
OUTAGE = NewTicket(subject="Сайт не открывается", text="Сайт отдаёт 502 с утра")


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sweep(world: FakeWorld, minutes: float) -> None:
    world.clock.now = at(minutes)
    world.runtime.sweeper.run(at(minutes))


def queue_ids(world: FakeWorld) -> list[str]:
    from chalicelib.staff.queries import QueueFilter

    page = world.runtime.desk.queue(AGENT, 50, None, QueueFilter())
    return [item["id"] for item in page["items"]]


def _breached_eta(world: FakeWorld) -> str:
    """A ticket whose delay notice's ETA passed unanswered: breached."""
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(20)
    request = DelayNoticeRequest("Ждём дата-центр", at(90))
    world.runtime.desk.post_delay_notice(AGENT, ticket.id, request)
    sweep(world, 80)
    sweep(world, 91)
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.sla is not None and stored.sla.state == "breached"
    return ticket.id


# -- R2.7: a breach stays the current wait until staff answer it ---------------------------


def test_r2_7_a_nudge_after_a_breached_eta_does_not_start_a_fresh_wait(world: FakeWorld) -> None:
    ticket_id = _breached_eta(world)
    world.clock.now = at(95)
    world.runtime.cabinet.add_message(ANNA, ticket_id, "есть новости?")
    stored = world.store.get(ticket_id)
    assert stored is not None and stored.sla is not None
    assert stored.sla.state == "breached" and stored.sla.due_at == at(90).isoformat().replace(
        "+00:00", ".000+00:00"
    )
    assert stored.sla.history == ()  # the breach did not move to history
    assert duty(stored.sla) is Duty.ANSWER
    assert queue_ids(world)[0] == ticket_id  # still at the head, among the breaches


def test_r2_7_only_a_staff_answer_settles_a_breached_eta(world: FakeWorld) -> None:
    ticket_id = _breached_eta(world)
    assert world.store.open_count() == 1  # the gauge counts the breached wait
    world.clock.now = at(100)
    world.runtime.desk.respond(AGENT, ticket_id, "Сайт снова работает.")
    stored = world.store.get(ticket_id)
    assert stored is not None and stored.sla is not None
    assert stored.sla.state == "breached" and stored.sla.answered_at is not None
    assert duty(stored.sla) is None and world.store.open_count() == 0
    world.clock.now = at(110)
    world.runtime.cabinet.add_message(ANNA, ticket_id, "Снова не работает")
    again = world.store.get(ticket_id)
    assert again is not None and again.sla is not None
    assert again.sla.state == "pending" and len(again.sla.history) == 1  # R2.5: a new wait


def test_r2_7_a_nudge_on_a_plain_breach_keeps_it_at_the_head(world: FakeWorld) -> None:
    first = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(5)
    world.runtime.cabinet.open_ticket(ANNA, NewTicket("Почта", "Почта не работает"))
    sweep(world, 61)
    world.clock.now = at(62)
    world.runtime.cabinet.add_message(ANNA, first.id, "Ну что там?")
    assert queue_ids(world)[0] == first.id


# -- R2.8: staff end a wait only with an answer ----------------------------------------------


@pytest.mark.parametrize("status", ["solved", "closed"])
def test_r2_8_staff_cannot_solve_or_close_an_unanswered_ticket(
    world: FakeWorld, status: str
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    with pytest.raises(Conflict) as refused:
        world.runtime.lifecycle.set_status(AGENT, ticket.id, status)
    assert refused.value.code == "answer_required"
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.status == "open" and stored.sla is not None
    assert stored.sla.state == "pending" and stored.sla.ended_at is None


def test_r2_8_a_solve_with_text_posts_the_answer_first(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(10)
    solved = world.runtime.lifecycle.set_status(AGENT, ticket.id, "solved", "Исправили конфиг.")
    assert solved.status == "solved" and solved.sla is not None
    assert solved.sla.state == "met" and solved.sla.answered_at is not None
    thread = world.store.thread(ticket.id)
    assert thread is not None
    assert [m.text for m in thread.messages if m.author == "staff"] == ["Исправили конфиг."]
    assert any(m["To"] for m in world.mailer.sent)  # the customer is told (R2.6)


def test_r2_8_an_answered_ticket_is_solved_without_text(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.runtime.desk.respond(AGENT, ticket.id, "Исправили.")
    assert world.runtime.lifecycle.set_status(AGENT, ticket.id, "solved").status == "solved"


def test_r2_8_a_customer_closing_while_waiting_withdraws_the_wait(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(10)
    closed = world.runtime.lifecycle.set_status(ANNA, ticket.id, "closed")
    assert closed.sla is not None and closed.sla.state == "withdrawn"
    assert duty(closed.sla) is None and world.store.open_count() == 0
    sweep(world, 61)
    assert world.publisher.sent == []  # nothing to escalate


def test_r2_8_a_customer_cannot_carry_an_answer(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    with pytest.raises(InvalidInput) as refused:
        world.runtime.lifecycle.set_status(ANNA, ticket.id, "closed", "сам починил")
    assert refused.value.code == "text_not_allowed"


# -- R6.2: every customer message is judged ---------------------------------------------------


def _notices(world: FakeWorld) -> list[dict[str, object]]:
    world.runtime.sweeper.run(world.clock.now)  # the drain sends what is still owed
    return [m for _, kind, m in world.publisher.sent if kind == "abusive_request"]


def test_r6_2_abuse_in_a_cabinet_follow_up_is_flagged_and_reported_once(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.clock.now = at(3)
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Да вы издеваетесь, уроды!")
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Уроды, ответьте уже")
    stored = world.store.get(ticket.id)
    assert stored is not None and "abusive" in stored.scope.flags
    assert any(e.match.lower() == "уроды" for e in stored.scope.evidence if e.name == "abusive")
    notices = _notices(world)
    assert len(notices) == 1 and notices[0]["ticket_id"] == ticket.id
    trail = [e.action for e in world.store.audit_trail(ticket.id)]
    assert trail.count("abuse_flagged") == 1


def test_r6_2_abuse_in_an_email_reply_is_flagged(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("unit-mail", key)] = mail(
        subject=f"Re: [#{ticket.id}] Сайт", body="Да вы издеваетесь, уроды!"
    )
    world.runtime.mail.process(Notification("unit-mail", key, None, PASS))
    stored = world.store.get(ticket.id)
    assert stored is not None and "abusive" in stored.scope.flags
    assert len(_notices(world)) == 1


def test_r6_2_a_clean_follow_up_flags_nothing(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Застрахуйте, пожалуйста, сервер")
    stored = world.store.get(ticket.id)
    assert stored is not None and "abusive" not in stored.scope.flags
    assert _notices(world) == []


def test_r6_2_abuse_in_a_later_chat_line_is_flagged(world: FakeWorld) -> None:
    from chalicelib.intake.chat import parse_transcript

    body = {
        "id": "conv-rude",
        "channel": "chat",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:10:00+03:00",
        "messages": [
            {"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Как сменить тариф?"},
            {"from": "operator", "at": "2026-11-24T12:02:00+03:00", "text": "В кабинете."},
            {
                "from": "customer",
                "at": "2026-11-24T12:03:00+03:00",
                "text": "Да вы издеваетесь, уроды!",
            },
        ],
    }
    view, _ = world.runtime.chat.record(parse_transcript(body))
    assert "abusive" in view["scope"]["flags"]
    assert len(_notices(world)) == 1


# -- R1.4: a reply to a closed ticket ---------------------------------------------------------


def _reply(world: FakeWorld, ticket_id: str, sender: str = "anna@flowershop.example") -> str:
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("unit-mail", key)] = mail(
        sender=sender, subject=f"Re: [#{ticket_id}] Сайт", body="Опять не работает"
    )
    return world.runtime.mail.process(Notification("unit-mail", key, None, PASS)).record_id


def test_r1_4_a_reply_to_a_closed_ticket_is_a_follow_up_the_customer_is_told_about(
    world: FakeWorld,
) -> None:
    from email import message_from_bytes
    from email.policy import default

    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.runtime.lifecycle.set_status(AGENT, ticket.id, "closed", "Починили.")
    before = len(world.mailer.sent)
    rid = _reply(world, ticket.id)
    record = world.store.get(rid)
    assert record is not None and not record.official and record.follow_up_of == ticket.id
    assert record.to_api()["follow_up_of"] == ticket.id
    thread = world.store.thread(ticket.id)
    assert thread is not None and [m.author for m in thread.messages] == ["staff"]
    trail = world.store.audit_trail(ticket.id)
    assert [e.detail for e in trail if e.action == "follow_up_received"] == [
        {"record": rid, "channel": "email"}
    ]
    [ack] = [message_from_bytes(m.as_bytes(), policy=default) for m in world.mailer.sent[before:]]
    text = str(ack.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert f"Заявка {ticket.id} закрыта" in text and f"Ticket {ticket.id} is closed" in text
    assert "https://cabinet.example.com/tickets/new" in text


def test_r1_4_a_strangers_reply_to_a_closed_ticket_points_nowhere(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    world.runtime.lifecycle.set_status(AGENT, ticket.id, "closed", "Починили.")
    record = world.store.get(_reply(world, ticket.id, sender="mallory@evil.example"))
    assert record is not None and record.follow_up_of is None


# -- a message decided on the ticket as this process last served it ----------------------


def test_r2_5_a_message_decided_on_a_remembered_ticket_sees_an_answer_given_elsewhere(
    world: FakeWorld,
) -> None:
    """The cabinet decides a follow-up on the ticket it last served (one write, no read);
    the write holds only if nothing changed since, so an answer another process gave
    meanwhile still starts the customer's new wait (R2.5), and a close still refuses."""
    body, _ = world.runtime.cabinet.create_ticket(ANNA, OUTAGE, None)  # remembered here
    world.clock.now = at(10)
    world.runtime.desk.respond(AGENT, body["id"], "Перезапустили сервер.")  # elsewhere
    world.clock.now = at(20)
    world.runtime.cabinet.add_message(ANNA, body["id"], "Снова 502")
    stored = world.store.get(body["id"])
    assert stored is not None and stored.sla is not None and stored.status == "open"
    assert stored.sla.state == "pending" and len(stored.sla.history) == 1
    world.runtime.cabinet.thread(ANNA, body["id"])  # remembered again, as read
    world.runtime.lifecycle.set_status(AGENT, body["id"], "closed", "Исправлено.")
    with pytest.raises(Conflict):
        world.runtime.cabinet.add_message(ANNA, body["id"], "И ещё")


def test_an_answer_decided_on_a_request_read_before_a_change_is_decided_again(
    world: FakeWorld,
) -> None:
    """The incident fan-out answers each linked request as its page read it; a request
    that moved since (here: solved and reopened with a new wait) is read again, so the
    answer meets the wait that is current (R2.5)."""
    ticket = world.runtime.cabinet.open_ticket(ANNA, OUTAGE)
    as_read = world.store.get(ticket.id)
    world.clock.now = at(10)
    world.runtime.desk.respond(AGENT, ticket.id, "Первый ответ")
    world.clock.now = at(20)
    world.runtime.cabinet.add_message(ANNA, ticket.id, "Снова не работает")
    world.clock.now = at(30)
    assert as_read is not None
    world.runtime.desk.respond(AGENT, ticket.id, "Второй ответ", known=as_read)
    stored = world.store.get(ticket.id)
    assert stored is not None and stored.sla is not None
    assert stored.sla.state == "met" and len(stored.sla.history) == 1
    assert stored.status == "answered"
