"""The attacks of the trust-boundary review (issue 23), one row of `make reliability` per
class: how many were tried, how many were refused, how many leaked (must be 0). Each
attack once worked on the local stack; here it runs on the fakes (the same services)
or, for the HTTP fields, on moto through the app's handlers."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.reliability.harness import Row, moto_stack

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}
VICTIM = "anna@flowershop.example"


def _world() -> Any:
    from tests.fakes import fake_world

    return fake_world(T0, accounts={VICTIM: "sub-anna"})


def _agent() -> Any:
    from chalicelib.domain.identity import Principal

    return Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))


def _deliver(world: Any, raw: bytes, verdicts: dict[str, str]) -> str:
    from chalicelib.intake.mail.adapter import Notification

    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("attack-mail", key)] = raw
    return str(
        world.runtime.mail.process(Notification("attack-mail", key, None, verdicts)).record_id
    )


def _tally(row: Row, refused: bool) -> None:
    row.inputs += 1
    row.stored += 1
    row.refused += refused
    row.leaked += not refused


def unverified_account_email(row: Row) -> None:
    """An attacker's own account holds the victim's address, never verified."""
    from tests.samples import mail

    world = _world()
    world.directory.accounts["ceo@victim.example"] = "sub-attacker"
    world.directory.unverified.add("ceo@victim.example")
    for n in range(10):
        rid = _deliver(world, mail(sender="ceo@victim.example", subject=f"Секрет {n}"), PASS)
        record = world.store.get(rid)
        _tally(row, record is not None and record.customer != "sub-attacker")


def forged_authentication_results(row: Row) -> None:
    """A spoofed reply to the victim's official ticket, with a header claiming DMARC."""
    from chalicelib.intake.cabinet import NewTicket
    from tests.reliability.scenarios import _customer
    from tests.samples import mail

    world = _world()
    owner = _customer(0)
    world.directory.accounts[VICTIM] = owner.sub
    ticket = world.runtime.cabinet.open_ticket(owner, NewTicket("FTP", "FTP не работает"))
    header = "amazonses.com; spf=pass; dkim=pass; dmarc=pass header.from=flowershop.example"
    for verdicts in (
        {**PASS, "dmarc": "GRAY"},
        {"spam": "PASS", "virus": "PASS"},
        {**PASS, "dmarc": "PROCESSING_FAILED"},
        {**PASS, "dmarc": "FAIL"},
    ):
        spoof = mail(subject=f"Re: [#{ticket.id}] FTP", Authentication_Results=header)
        _deliver(world, spoof, verdicts)
        thread = world.store.thread(ticket.id)
        joined = thread is not None and any(m.author == "customer" for m in thread.messages)
        _tally(row, not joined)


def chat_claims_an_address(row: Row) -> None:
    """A transcript names the victim's address: typed in, or given without verification."""
    from chalicelib.intake.chat import parse_transcript

    world = _world()
    bodies = []
    for n in range(6):
        body: dict[str, Any] = {
            "id": f"claim-{n}",
            "channel": "chat",
            "started_at": "2026-11-24T12:00:00+03:00",
            "ended_at": "2026-11-24T12:10:00+03:00",
            "messages": [{"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Тариф?"}],
        }
        if n % 2:
            body["customer_email"] = VICTIM
        else:
            body["messages"][0]["text"] = f"Мой аккаунт {VICTIM}, пришлите пароль"
        bodies.append(body)
    for body in bodies:
        view, _ = world.runtime.chat.record(parse_transcript(body))
        answer = world.runtime.desk.respond(_agent(), view["id"], "Пароль: ...")
        mine = world.store.for_customer("sub-anna", 50, None).items
        mailed = answer.delivery is None or answer.delivery.state != "undeliverable"
        leaked = view["account"] is not None or mailed or bool(mine)
        _tally(row, not leaked)


def currency_swap(row: Row) -> None:
    """Accept, revise to another currency, pay, accept the revision, refuse."""
    from chalicelib.errors import Conflict
    from chalicelib.intake.cabinet import NewTicket
    from tests.reliability.scenarios import _customer

    world = _world()
    for n in range(3):
        owner = _customer(n)
        ticket = world.runtime.cabinet.open_ticket(owner, NewTicket("Настройка", "Платно"))
        desk = world.runtime.quotes
        terms = {"scope": "nginx", "deadline": "2030-01-10", "price": "100", "currency": "RUB"}
        quote = desk.propose(_agent(), ticket.id, terms)
        desk.act(owner, ticket.id, quote.id, "accept", {})
        desk.act(owner, ticket.id, quote.id, "revise", {"price": "10.00", "currency": "USD"})
        desk.act(_agent(), ticket.id, quote.id, "payments", {"amount": "60", "currency": "RUB"})
        with contextlib.suppress(Conflict):  # 409 currency_locked
            desk.act(_agent(), ticket.id, quote.id, "accept", {})
        ended = desk.act(_agent(), ticket.id, quote.id, "refuse", {"reason": "Отмена"})
        body = ended.to_api()
        _tally(row, (body["refund_due"], body["refund_currency"]) == ("60.00", "RUB"))


def backscatter(row: Row) -> None:
    """Mail whose From is forged (DMARC or SPF failing) is never acknowledged."""
    from tests.samples import mail

    world = _world()
    for n, verdicts in enumerate(
        ({**PASS, "dmarc": "FAIL"}, {**PASS, "dmarc": "GRAY", "spf": "FAIL"}) * 4
    ):
        before = len(world.mailer.sent)
        _deliver(world, mail(sender=f"victim{n}@example.com", subject="Вопрос"), verdicts)
        _tally(row, len(world.mailer.sent) == before)


def outbound_header_injection(row: Row) -> None:
    """Senders whose address would put a control byte, an encoded word or a second
    header into our `To:`."""
    world = _world()
    for sender in (
        "анна@example.com",
        "Анна <anna@пример.рф>",
        "=?utf-8?q?a=0D=0ABcc:_x@evil.example?= <anna@example.com>",
    ):
        raw = (
            f"From: {sender}\r\nTo: support@support.hosting.example\r\nSubject: Тариф\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nКак сменить тариф?\r\n"
        ).encode()
        before = len(world.mailer.sent)
        rid = _deliver(world, raw, PASS)
        world.runtime.desk.respond(_agent(), rid, "Ответ.")
        sent = [m.as_bytes() for m in world.mailer.sent[before:]]
        to_lines = [line for m in sent for line in m.split(b"\r\n") if line.startswith(b"To:")]
        bad = any(b"=?" in line or not line.isascii() for line in to_lines)
        bad |= any(b"\r\nBcc:" in m.split(b"\r\n\r\n", 1)[0] for m in sent)
        _tally(row, not bad)


def hostile_text_fields(row: Row) -> None:
    """Every text field the OpenAPI document names, given a lone surrogate, a NUL and a
    bidi override, over the app's handlers on moto: never a 5xx, never stored."""
    from chalice.test import Client

    from app import app
    from tests.conftest import Api
    from tests.integration.test_hostile_text_fields import (
        FORBIDDEN,
        HOSTILE,
        World,
        _with,
        text_fields,
    )

    with moto_stack(secret="test-chat-webhook-secret"), Client(app) as client:
        world = World(Api(client))
        for operation, field, _ in text_fields():
            _, _, _, valid = world.request(operation, field)
            for value in HOSTILE.values():
                status, answer = world.send(operation, _with(valid, field, value), field)
                row.http_5xx += status >= 500
                stored = json.dumps(answer, ensure_ascii=False) if status < 400 else ""
                _tally(row, status < 500 and not any(c in stored for c in FORBIDDEN))


ATTACKS: dict[str, Callable[[Row], None]] = {
    "unverified account e-mail": unverified_account_email,
    "forged Authentication-Results": forged_authentication_results,
    "chat claims an address": chat_claims_an_address,
    "currency swap under a payment": currency_swap,
    "backscatter to forged senders": backscatter,
    "outbound header injection": outbound_header_injection,
    "hostile text in every field": hostile_text_fields,
}


def attack_rows() -> list[Row]:
    rows = []
    for name, attack in ATTACKS.items():
        row = Row(f"attack: {name}")
        started = datetime.now(UTC)
        attack(row)
        row.seconds = (datetime.now(UTC) - started) / timedelta(seconds=1)
        rows.append(row)
    return rows
