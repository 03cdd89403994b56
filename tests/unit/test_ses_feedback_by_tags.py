"""SES may replace our Message-ID (issue 28): bounces are matched by the message tags
we send with each mail (`request`, `item`), which SES returns with every event; the
delivery keeps the id SES gave the mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.domain.identity import Principal
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.handler import mail_batch
from tests.fakes import fake_world, sqs_event

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
AGENT = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))


def _bounce(message_id: str, tags: dict[str, list[str]]) -> dict:
    event = {
        "eventType": "Bounce",
        "mail": {"messageId": "0102abc", "commonHeaders": {"messageId": message_id}, "tags": tags},
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "anna@flowershop.example"}],
        },
    }
    return sqs_event(json.dumps({"Message": json.dumps(event)}))


def test_a_bounce_whose_message_id_ses_replaced_is_matched_by_its_tags() -> None:
    world = fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})
    body, _ = world.runtime.cabinet.create_ticket(
        ANNA, NewTicket(subject="Почта", text="Письма не уходят"), None
    )
    answer = world.runtime.desk.respond(AGENT, body["id"], "Проверьте SPF")
    assert world.mailer.tags[-1] == {"request": body["id"], "item": answer.id}
    sent = world.runtime.cabinet.thread(AGENT, body["id"]).messages[-1]
    assert sent.delivery.message_id == f"ses-{len(world.mailer.sent):06d}"
    # SES rewrote the Message-ID: only the tags tie the bounce to the answer.
    event = _bounce(
        "<0102abc@eu-central-1.amazonses.com>", {"request": [body["id"]], "item": [answer.id]}
    )
    mail_batch(event, world.runtime.mail, feedback=world.runtime.customer_mail)
    after = world.runtime.cabinet.thread(AGENT, body["id"])
    assert after.messages[-1].delivery.state == "failed"
    assert "delivery_failed" in after.ticket.attention


def test_a_bounce_with_neither_tags_nor_our_message_id_is_not_ours() -> None:
    world = fake_world(T0)
    event = _bounce("<0102abc@eu-central-1.amazonses.com>", {"request": ["not-an-id"]})
    assert mail_batch(event, world.runtime.mail, feedback=world.runtime.customer_mail) == {
        "batchItemFailures": []
    }
