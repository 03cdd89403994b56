"""R2.6 on moto: answers leave through SES, bounces come back through the mail queue."""

from __future__ import annotations

import json
import uuid
from email import message_from_bytes
from email.policy import default
from typing import Any

from chalicelib.intake.mail.handler import mail_batch
from tests.conftest import Api, make_token
from tests.integration.test_email_intake import acks, deliver, record

STAFF = make_token("sub-agent", "agent@hosting.example", ["staff"])


def sent_mails() -> list[Any]:
    parsed = []
    for message in acks():
        raw = message.raw_data if isinstance(message.raw_data, bytes) else message.raw_data.encode()
        parsed.append(message_from_bytes(raw, policy=default))
    return [m for m in parsed if m["Auto-Submitted"] != "auto-replied"]


def test_a_staff_answer_on_an_email_record_leaves_through_ses_threaded(api: Api) -> None:
    key, response = deliver(
        b"From: anna@flowershop.example\r\nTo: support@support.hosting.example\r\n"
        b"Subject: Mail is down\r\nMessage-ID: <m1@flowershop.example>\r\n\r\n"
        b"Our mail bounces with 451 since this morning.\r\n"
    )
    assert response == {"batchItemFailures": []}
    rid = record(key)["id"]
    status, message, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=STAFF, body={"text": "Fixed, please retry."}
    )
    assert status == 201
    assert message["delivery"]["state"] == "sent"
    assert message["delivery"]["to"] == "anna@flowershop.example"
    [answer] = sent_mails()
    assert answer["In-Reply-To"] == "<m1@flowershop.example>"
    assert answer["Subject"] == f"Re: Mail is down [#{rid}]"
    assert "Fixed, please retry." in answer.get_body(preferencelist=("plain",)).get_content()
    status, thread, _ = api.call("GET", f"/tickets/{rid}", token=STAFF)
    assert thread["messages"][-1]["delivery"]["state"] == "sent"


def feedback(kind: str, message_id: str, address: str) -> dict[str, Any]:
    detail = (
        {"bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": address}]}}
        if kind == "Bounce"
        else {"complaint": {"complainedRecipients": [{"emailAddress": address}]}}
    )
    inner = {"eventType": kind, "mail": {"commonHeaders": {"messageId": message_id}}, **detail}
    body = json.dumps({"Type": "Notification", "Message": json.dumps(inner)})
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:support-intake-mail-local",
        "awsRegion": "eu-central-1",
    }


def test_a_bounce_from_ses_fails_the_delivery_and_suppresses_the_address(api: Api) -> None:
    from app import runtime

    key, _ = deliver(
        b"From: anna@flowershop.example\r\nTo: support@support.hosting.example\r\n"
        b"Subject: Question\r\nMessage-ID: <m2@flowershop.example>\r\n\r\nHow do I change my plan?\r\n"
    )
    rid = record(key)["id"]
    _, message, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=STAFF, body={"text": "In the cabinet."}
    )
    ours = f"<reply-{rid}.{message['id']}@support.hosting.example>"
    rt = runtime()
    event = {"Records": [feedback("Bounce", ours, "anna@flowershop.example")]}
    assert mail_batch(event, rt.mail, rt.imports, rt.customer_mail) == {"batchItemFailures": []}
    _, thread, _ = api.call("GET", f"/tickets/{rid}", token=STAFF)
    assert thread["messages"][-1]["delivery"]["state"] == "failed"
    assert thread["attention"] == ["delivery_failed"]
    _, again, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=STAFF, body={"text": "Anything else?"}
    )
    assert again["delivery"]["state"] == "suppressed"
    assert len(sent_mails()) == 1


def test_a_staff_client_retrying_with_its_idempotency_key_answers_once(api: Api) -> None:
    key, _ = deliver(
        b"From: anna@flowershop.example\r\nTo: support@support.hosting.example\r\n"
        b"Subject: Question\r\nMessage-ID: <m3@flowershop.example>\r\n\r\nHow do I change my plan?\r\n"
    )
    rid = record(key)["id"]
    headers = {"Idempotency-Key": "staff-ui-42"}
    answers = [
        api.call(
            "POST",
            f"/tickets/{rid}/responses",
            token=STAFF,
            body={"text": "In the cabinet."},
            headers=headers,
        )
        for _ in range(2)
    ]
    assert [status for status, _, _ in answers] == [201, 201]
    assert answers[0][1]["id"] == answers[1][1]["id"]
    assert len(sent_mails()) == 1
    status, body, _ = api.call(
        "POST",
        f"/tickets/{rid}/responses",
        token=STAFF,
        body={"text": "Something else."},
        headers=headers,
    )
    assert status == 409 and body["error"]["code"] == "idempotency_key_reused"
