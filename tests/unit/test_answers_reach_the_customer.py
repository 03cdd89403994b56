"""R2.6: an answer is given when the customer can see it. On fakes (no AWS)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as MimeMessage
from email.policy import default

import pytest

from chalicelib.domain.identity import Principal
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.chat import parse_transcript
from chalicelib.intake.mail.adapter import Notification
from chalicelib.staff.forms import parse_delay_notice_request
from tests.fakes import FakeWorld, fake_world
from tests.samples import mail

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ANNA = Principal(sub="sub-anna", email=None, groups=())  # moto's tokens carry no e-mail
AGENT = Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def deliver(world: FakeWorld, raw: bytes) -> str:
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("unit-mail", key)] = raw
    note = Notification("unit-mail", key, "x@y.example", PASS)
    return world.runtime.mail.process(note).record_id


def sent(world: FakeWorld, kind: str = "") -> list[MimeMessage]:
    """Mails other than acknowledgements, parsed back as a mail client would."""
    found = [message_from_bytes(m.as_bytes(), policy=default) for m in world.mailer.sent]
    return [m for m in found if m["Auto-Submitted"] != "auto-replied"]


def body_of(message: MimeMessage) -> str:
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


def test_an_answer_to_an_email_record_is_one_threaded_mail(world: FakeWorld) -> None:
    customer_id = f"<{uuid.uuid4().hex}@flowershop.example>"
    raw = mail(subject="Почта не работает", message_id=customer_id, References="<a@x> <b@x>")
    rid = deliver(world, raw)
    world.clock.now = at(10)
    message = world.runtime.desk.respond(AGENT, rid, "Перезапустили почтовый сервер.")
    [answer] = sent(world)
    assert answer["To"] == "anna@flowershop.example"
    assert answer["Subject"] == f"Re: Почта не работает [#{rid}]"
    assert answer["In-Reply-To"] == customer_id
    assert answer["References"].split() == ["<a@x>", "<b@x>", customer_id]
    assert answer["Message-ID"] == f"<reply-{rid}.{message.id}@support.hosting.example>"
    assert answer["Auto-Submitted"] is None  # written by staff (RFC 3834)
    text = body_of(answer)
    assert "Перезапустили почтовый сервер." in text
    assert "консультационные" in text and "https://cabinet.example.com" in text  # R1.4
    assert answer.get_body(preferencelist=("html",)) is not None  # type: ignore[attr-defined]
    assert message.delivery is not None and message.delivery.state == "sent"
    assert message.delivery.to == "anna@flowershop.example"
    # The send job run again (a redelivery, the next sweep) sends nothing more.
    world.runtime.sweeper.run(at(20))
    assert len(sent(world)) == 1


def test_a_cabinet_response_and_a_delay_notice_notify_the_account(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, NewTicket("Сайт", "Сайт отдаёт 502."))
    world.clock.now = at(10)
    notice = world.runtime.desk.post_delay_notice(
        AGENT,
        ticket.id,
        parse_delay_notice_request({"reason": "Меняем диск", "eta": at(180).isoformat()}),
    )
    world.clock.now = at(30)
    world.runtime.desk.respond(AGENT, ticket.id, "Диск заменён, сайт работает.")
    delay, response = sent(world)
    assert delay["To"] == response["To"] == "anna@flowershop.example"
    assert delay["Auto-Submitted"] == response["Auto-Submitted"] == "auto-generated"
    assert "Меняем диск" in body_of(delay)
    # R2.9: in the company's time zone, with its name (12:00 UTC is 15:00 in Moscow)
    assert "2026-11-24 15:00 (Europe/Moscow, MSK)" in body_of(delay)
    assert "Диск заменён" in body_of(response)
    assert f"https://cabinet.example.com/tickets/{ticket.id}" in body_of(response)
    assert f"[#{ticket.id}]" in response["Subject"]
    assert notice.delivery is not None and notice.delivery.state == "sent"


def test_a_refused_send_is_retried_and_ends_failed_for_staff_to_see(world: FakeWorld) -> None:
    rid = deliver(world, mail())
    world.mailer.failures = 100
    world.clock.now = at(1)
    message = world.runtime.desk.respond(AGENT, rid, "Ответ")
    assert message.delivery is not None and message.delivery.state == "queued"
    for hours in range(1, 10):  # the sweeps retry with backoff, then give up
        world.runtime.sweeper.run(at(60 * hours))
    thread = world.store.thread(rid)
    assert thread is not None
    [stored] = [m for m in thread.messages if m.id == message.id]
    assert stored.delivery is not None and stored.delivery.state == "failed"
    assert "delivery_failed" in thread.ticket.attention
    assert world.store.owed() == []


def test_a_bounce_fails_the_delivery_and_a_complaint_suppresses_the_address(
    world: FakeWorld,
) -> None:
    rid = deliver(world, mail())
    message = world.runtime.desk.respond(AGENT, rid, "Ответ")
    our_id = f"<reply-{rid}.{message.id}@support.hosting.example>"
    assert world.runtime.customer_mail.bounced(
        our_id, "anna@flowershop.example", permanent=False, complaint=True
    )
    thread = world.store.thread(rid)
    assert thread is not None and "delivery_failed" in thread.ticket.attention
    assert thread.messages[-1].delivery.state == "failed"  # type: ignore[union-attr]
    again = world.runtime.desk.respond(AGENT, rid, "Ещё ответ")
    assert again.delivery is not None and again.delivery.state == "suppressed"
    assert len(sent(world)) == 1
    assert not world.runtime.customer_mail.bounced(
        "<x@elsewhere>", "a@b.c", permanent=True, complaint=False
    )


def test_a_reply_to_a_notification_threads_into_the_ticket_and_a_strangers_does_not(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, NewTicket("Сайт", "Сайт отдаёт 502."))
    world.runtime.desk.respond(AGENT, ticket.id, "Проверьте ещё раз, пожалуйста.")
    [notification] = sent(world)
    ours = notification["Message-ID"]
    deliver(world, mail(subject="Re: ответ", In_Reply_To=ours, body="Всё ещё 502."))
    deliver(world, mail(sender="eve@evil.example", subject="Re: ответ", In_Reply_To=ours))
    thread = world.store.thread(ticket.id)
    assert thread is not None
    customer_turns = [m.text for m in thread.messages if m.author == "customer"]
    assert customer_turns == ["Всё ещё 502."]
    assert thread.ticket.status == "open"


def test_an_answer_to_a_linked_chat_is_mailed_and_to_an_unlinked_one_is_only_recorded(
    world: FakeWorld,
) -> None:
    body = {
        "id": "conv-9",
        "channel": "chat",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:10:00+03:00",
        "customer_email": "anna@flowershop.example",
        "customer_email_verified": True,
        "messages": [{"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Тариф?"}],
    }
    linked, _ = world.runtime.chat.record(parse_transcript(body))
    unlinked, _ = world.runtime.chat.record(
        parse_transcript({**body, "id": "conv-10", "customer_email": "nobody@example.com"})
    )
    # R1.7: the account's own address, typed but not verified by the platform, is a claim.
    claimed, _ = world.runtime.chat.record(
        parse_transcript({**body, "id": "conv-11", "customer_email_verified": False})
    )
    answered = world.runtime.desk.respond(AGENT, linked["id"], "Тариф меняется в кабинете.")
    recorded = world.runtime.desk.respond(AGENT, unlinked["id"], "Тариф меняется в кабинете.")
    to_claim = world.runtime.desk.respond(AGENT, claimed["id"], "Тариф меняется в кабинете.")
    assert answered.delivery is not None and answered.delivery.state == "sent"
    # API.md: an answer nobody can receive says so, and why.
    for unsent in (recorded, to_claim):
        assert unsent.delivery is not None and unsent.delivery.state == "undeliverable"
        assert unsent.delivery.reason == "no_account" and unsent.delivery.to is None
    assert claimed["account"] is None and claimed["claimed_email"] == "anna@flowershop.example"
    [answer] = sent(world)
    assert answer["To"] == "anna@flowershop.example"


def test_machine_mail_is_never_answered_by_mail(world: FakeWorld) -> None:
    rid = deliver(world, mail(Auto_Submitted="auto-replied"))
    message = world.runtime.desk.respond(AGENT, rid, "Ответ роботу")
    assert message.delivery is not None and sent(world) == []
    assert (message.delivery.state, message.delivery.reason) == (
        "undeliverable",
        "not_a_customer_mail",
    )


def test_the_template_follows_the_language_of_the_request(world: FakeWorld) -> None:
    rid = deliver(world, mail(subject="Mail is down", body="Our mail bounces with 451 today."))
    world.runtime.desk.respond(AGENT, rid, "Fixed, please retry.")
    [answer] = sent(world)
    assert "E-mail is an advisory channel" in body_of(answer)
    assert "консультационные" not in body_of(answer)


def test_r2_9_a_russian_request_quoting_an_english_error_is_answered_in_russian(
    world: FakeWorld,
) -> None:
    ticket = world.runtime.cabinet.open_ticket(
        ANNA,
        NewTicket(
            "Сайт не работает",
            "Error establishing a database connection, MySQL недоступен\n"
            "Warning: mysqli_connect(): (HY000/2002): Connection refused in "
            "/var/www/site/wp-includes/class-wpdb.php on line 2019",
        ),
    )
    world.runtime.desk.respond(AGENT, ticket.id, "Перезапустили MySQL.")
    [notification] = sent(world)
    assert "Здравствуйте" in body_of(notification) and "Hello" not in body_of(notification)


def test_r2_9_the_accounts_language_wins_over_the_words(world: FakeWorld) -> None:
    world.directory.locales["sub-anna"] = "en-GB"
    ticket = world.runtime.cabinet.open_ticket(ANNA, NewTicket("Почта", "Почта не работает"))
    world.runtime.desk.respond(AGENT, ticket.id, "Fixed.")
    [notification] = sent(world)
    assert "Hello" in body_of(notification)


@pytest.mark.parametrize(
    "subject",
    [
        "Как перенести сайт на другой тариф?",
        "Не работает почта на домене после переноса на новый сервер, письма не уходят",
        "Ошибка 500 на главной странице сайта после обновления WordPress до последней "
        "версии и установки плагина кеширования, что делать и кто виноват",
        "Re: Fwd: Вопрос по оплате: счёт № 12345 от 01.11 не отображается в личном кабинете",
    ],
)
def test_r2_9_a_russian_subject_reaches_the_customer_with_every_space(
    world: FakeWorld, subject: str
) -> None:
    rid = deliver(world, _raw_from("olga@kofeinya.example", subject))
    world.runtime.desk.respond(AGENT, rid, "Ответ.")
    for message in [message_from_bytes(m.as_bytes(), policy=default) for m in world.mailer.sent]:
        decoded = str(message["Subject"])
        assert subject.removeprefix("Re: ") in decoded, decoded
        assert all(len(line) <= 78 for line in message.as_bytes().split(b"\n"))


def test_a_recipient_gets_at_most_fifty_mails_a_day(world: FakeWorld) -> None:
    rid = deliver(world, mail())
    states = [world.runtime.desk.respond(AGENT, rid, f"Ответ {n}").delivery for n in range(51)]
    assert [d.state for d in states if d] == ["sent"] * 50 + ["suppressed"]
    assert states[-1] is not None and states[-1].reason == "rate_limited"


def test_an_outbox_that_fails_after_the_answer_is_stored_defers_the_mail_not_the_answer(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's entry is written held for this process, so no claim stands between
    the answer and its send; the outbox failing afterwards (the settle) costs no 500 and
    leaves the entry owed, so the sweep retries once the hold ends (at least once)."""
    rid = deliver(world, mail())

    def down(*_: object, **__: object) -> None:
        raise ConnectionError("DynamoDB throttled the settle")

    monkeypatch.setattr(world.store.outbox.__class__, "done", down)
    message = world.runtime.desk.respond(AGENT, rid, "Ответ")  # no 500 for a stored answer
    assert message.delivery is not None and message.delivery.state == "queued"
    assert len(sent(world)) == 1
    assert [e.kind for e in world.store.owed()] == ["customer_mail"]
    monkeypatch.undo()
    world.runtime.sweeper.run(at(5))
    assert world.store.owed() == []


def test_a_retried_answer_with_its_idempotency_key_is_stored_and_mailed_once(
    world: FakeWorld,
) -> None:
    from chalicelib.errors import Conflict

    rid = deliver(world, mail())
    first = world.runtime.desk.respond(AGENT, rid, "Ответ", key="answer-1")
    again = world.runtime.desk.respond(AGENT, rid, "Ответ", key="answer-1")  # lost response
    assert again.id == first.id
    thread = world.store.thread(rid)
    assert thread is not None and [m.text for m in thread.messages] == ["Ответ"]
    assert len(sent(world)) == 1
    with pytest.raises(Conflict) as caught:
        world.runtime.desk.respond(AGENT, rid, "Другой ответ", key="answer-1")
    assert caught.value.code == "idempotency_key_reused"


# -- outbound headers: what goes into To: and Subject: ----------------------------------------


def _raw_from(sender: str, subject: str = "Как сменить тариф?") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@support.hosting.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@x.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nКак сменить тариф?\r\n"
    ).encode()


def test_an_internationalised_domain_is_mailed_as_punycode_without_encoded_words(
    world: FakeWorld,
) -> None:
    rid = deliver(world, _raw_from("Анна <anna@пример.рф>"))
    world.runtime.desk.respond(AGENT, rid, "Тариф меняется в кабинете.")
    mails = [message_from_bytes(m.as_bytes(), policy=default) for m in world.mailer.sent]
    assert len(mails) == 2  # the acknowledgement and the answer
    for message in mails:
        assert message["To"] == "anna@xn--e1afmkfd.xn--p1ai"
    raw = b"".join(m.as_bytes() for m in world.mailer.sent)
    assert b"To: =?" not in raw


def test_a_non_ascii_local_part_ends_failed_with_the_reason_staff_see(world: FakeWorld) -> None:
    rid = deliver(world, _raw_from("анна@example.com"))
    assert world.mailer.sent == []  # SES cannot send without SMTPUTF8: no acknowledgement
    record = world.store.get(rid)
    assert record is not None and record.origin is not None and record.origin.ack == "failed"
    answer = world.runtime.desk.respond(AGENT, rid, "Тариф меняется в кабинете.")
    assert answer.delivery is not None
    assert (answer.delivery.state, answer.delivery.reason) == ("failed", "smtputf8_required")
    ticket = world.store.get(rid)
    assert ticket is not None and "delivery_failed" in ticket.attention


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("anna\x01@example.com", "invalid_address"),
        ("anna@exa\x7fmple.com", "invalid_address"),
        ("anna@example.com\r\nBcc: all@x.example", "invalid_address"),
        ("anna@example", "invalid_address"),
        ("<anna>@example.com", "invalid_address"),
        ("анна@example.com", "smtputf8_required"),
    ],
)
def test_an_address_no_header_may_carry_is_undeliverable(address: str, reason: str) -> None:
    from chalicelib.outbound.compose import Undeliverable, deliverable_address

    with pytest.raises(Undeliverable) as refused:
        deliverable_address(address)
    assert refused.value.reason == reason
    assert deliverable_address("Anna.B+x@Пример.РФ") == "Anna.B+x@xn--e1afmkfd.xn--p1ai"


def test_a_long_subject_is_shortened_before_the_request_tag(world: FakeWorld) -> None:
    subject = "Почему не работает " + "очень " * 60 + "длинная тема"
    rid = deliver(world, _raw_from("olga@kofeinya.example", subject))
    world.runtime.desk.respond(AGENT, rid, "Ответ.")
    [answer] = sent(world)
    line = str(answer["Subject"])
    assert line.endswith(f"… [#{rid}]") and len(line) <= 200
