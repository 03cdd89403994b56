"""Real-world mail through the whole e-mail intake (issue: nothing in the dead-letter queue).

Copies of one message, acknowledgements that fail, spoofed senders, and replies that
merely mention an auto-reply; each with its own small fixture, on moto.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import register
from tests.integration.test_email_intake import (
    PASS,
    acks,
    deliver,
    mail,
    record,
    store_raw,
)


def test_one_message_stored_three_times_makes_one_record_and_one_ack(aws: Any) -> None:
    raw = mail()
    keys = [deliver(raw)[0] for _ in range(3)]
    dispositions = [record(key)["disposition"] for key in keys]
    assert dispositions == ["advisory", "duplicate", "duplicate"]
    assert record(keys[1])["reason"] == f"duplicate_of: {record(keys[0])['id']}"
    assert len(acks()) == 1


def test_the_same_message_id_from_another_sender_is_not_a_duplicate(aws: Any) -> None:
    first = mail()
    message_id = first.split(b"Message-ID: ", 1)[1].split(b"\n", 1)[0]
    second = mail(sender="boris@other.example").replace(
        second_id := mail().split(b"Message-ID: ", 1)[1].split(b"\n", 1)[0], message_id
    )
    assert second_id != message_id
    assert [record(deliver(m)[0])["disposition"] for m in (first, second)] == [
        "advisory",
        "advisory",
    ]


def test_a_reply_stored_twice_joins_its_thread_once(aws: Any) -> None:
    from app import runtime

    key, _ = deliver(mail(subject="FTP refuses connections", body="Connection refused"))
    first = record(key)["id"]
    reply = mail(subject=f"Re: [#{first}] FTP", body="It works again, thanks!")
    keys = [deliver(reply)[0] for _ in range(2)]
    assert [record(k)["disposition"] for k in keys] == ["reply", "duplicate"]
    assert [m.text for m in runtime().store.tickets.thread(first).messages] == [
        "It works again, thanks!"
    ]


class FailingMailer:
    """A mailer that refuses the first `failures` sends, then sends through moto's SES."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures = real, failures

    def send(self, message: Any, *, source: str, to: str, tags: Any = None) -> str | None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("SES throttled")
        self.real.send(message, source=source, to=to)


def ack_state(key: str) -> str | None:
    from app import runtime

    found = runtime().store.tickets.get(record(key)["id"])
    return found.origin.ack if found and found.origin else None


def test_a_failed_acknowledgement_is_retried_and_spends_no_allowance(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import runtime

    # The acknowledgement is an outbox entry: the mail is recorded whatever SES says,
    # and the sweeps retry the send with backoff (1 minute, then 2).
    acknowledgements = runtime().dispatcher._senders["acknowledgement"].__self__
    monkeypatch.setattr(
        acknowledgements, "_mailer", FailingMailer(acknowledgements._mailer, failures=2)
    )
    key = store_raw(mail())
    _, response = deliver(b"", key=key)
    assert response == {"batchItemFailures": []}
    assert ack_state(key) == "owed"
    now = datetime.now(UTC)
    runtime().sweeper.run(now + timedelta(minutes=1, seconds=5))
    assert ack_state(key) == "owed"
    runtime().sweeper.run(now + timedelta(minutes=4))
    assert ack_state(key) == "sent"
    assert len(acks()) == 1
    # Two failures spent nothing: two more mails today are still acknowledged.
    for number in range(2):
        deliver(mail(subject=f"Вопрос {number}", body="Как сменить тариф?"))
    assert len(acks()) == 3
    deliver(mail(subject="Вопрос 3", body="Как сменить тариф?"))
    assert len(acks()) == 3


def test_a_display_name_address_never_files_mail_under_its_owner(aws: Any) -> None:
    victim = register("victim@customer.example")
    spoofed = mail(sender="=?utf-8?Q?victim=40customer.example?= <attacker@evil.example>")
    key, _ = deliver(spoofed, verdicts=PASS)
    found = record(key)
    assert found["customer"] != victim
    assert found["customer"] == "email:attacker@evil.example"
    assert set(acks()[0].destinations) == {"attacker@evil.example"}


def test_a_spoofed_sender_cannot_join_the_victims_thread(aws: Any) -> None:
    from app import runtime

    key, _ = deliver(mail(sender="victim@customer.example", subject="Сайт не работает"))
    first = record(key)["id"]
    spoofed = mail(
        sender="victim@customer.example <attacker@evil.example>", subject=f"Re: [#{first}]"
    )
    key2, _ = deliver(spoofed, verdicts=PASS)
    assert record(key2)["disposition"] == "advisory"
    assert runtime().store.tickets.thread(first).messages == ()


def test_an_encoded_name_with_a_comma_is_acknowledged(aws: Any) -> None:
    name = base64.b64encode("Иванов, Иван".encode()).decode()
    key, _ = deliver(mail(sender=f"=?utf-8?B?{name}?= <ivan@shop.example>"))
    assert "sender_unverified" not in record(key)["scope"]["flags"]
    assert set(acks()[0].destinations) == {"ivan@shop.example"}


def test_a_reply_that_mentions_auto_replied_is_a_persons_reply(aws: Any) -> None:
    from app import runtime

    key, _ = deliver(mail(subject="FTP", body="FileZilla: Connection refused"))
    first = record(key)["id"]
    ack_id = str(acks()[0].raw_data).split("Message-ID: <", 1)[1].split(">", 1)[0]
    reply = mail(
        subject=f"Re: [#{first}] FTP",
        body="Your mail said Auto-Submitted: auto-replied, but I need a person. Still refused.",
        In_Reply_To=f"<{ack_id}>",
    )
    key2, _ = deliver(reply)
    assert record(key2)["disposition"] == "reply"
    assert len(runtime().store.tickets.thread(first).messages) == 1


def test_mail_with_screenshots_and_a_pdf_is_stored_whole(aws: Any) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "anna@flowershop.example"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = "Ошибка в панели"
    message.set_content("Скриншоты и выписка во вложении: панель отдаёт 500.")
    files = {"shot1.png": os.urandom(200_000), "shot2.png": os.urandom(150_000)}
    files["statement.pdf"] = os.urandom(160_000)
    for name, data in files.items():
        kind = ("image", "png") if name.endswith(".png") else ("application", "pdf")
        message.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    key, response = deliver(message.as_bytes())
    assert response == {"batchItemFailures": []}
    found = record(key)
    assert found["disposition"] == "advisory"
    assert [(a["name"], a["size"]) for a in found["attachments"]] == [
        (name, len(data)) for name, data in files.items()
    ]
