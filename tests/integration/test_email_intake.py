"""Inbound e-mail (R1.2, R1.4): nothing lost, nothing twice, never answering a robot."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.ids import mail_ticket_id
from chalicelib.intake.mail.handler import mail_batch
from devtools.resources import ses_notification
from tests.conftest import register
from tests.samples import mail

BUCKET = os.environ["MAIL_BUCKET"]
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


def sqs_record(bucket: str, key: str, *, source: str | None, verdicts: dict) -> dict:
    envelope = {
        "Type": "Notification",
        "Message": ses_notification(bucket, key, source=source, verdicts=verdicts),
    }
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": json.dumps(envelope),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:support-intake-mail-local",
        "awsRegion": "eu-central-1",
    }


def store_raw(raw: bytes) -> str:
    key = f"raw/{uuid.uuid4().hex}"
    boto3.client("s3", region_name="eu-central-1").put_object(Bucket=BUCKET, Key=key, Body=raw)
    return key


def deliver(
    raw: bytes,
    *,
    verdicts: dict | None = None,
    source: str | None = "x@y.example",
    key: str | None = None,
) -> tuple[str, dict]:
    from app import runtime

    key = key or store_raw(raw)
    event = {"Records": [sqs_record(BUCKET, key, source=source, verdicts=verdicts or PASS)]}
    return key, mail_batch(event, runtime().mail)


def record(key: str) -> dict:
    """What the intake stored for the mail at `key` ({"id"} alone if nothing)."""
    from app import runtime

    rid = mail_ticket_id(BUCKET, key)
    found = runtime().store.tickets.get(rid)
    if found is None:
        return {"id": rid}
    origin = found.origin
    return {
        "id": rid,
        "disposition": origin.disposition if origin else None,
        "reason": origin.reason if origin else None,
        "thread_of": origin.thread_of if origin else None,
        "attachments": [a.to_dict() for a in origin.attachments] if origin else [],
        "official": found.official,
        "customer": found.customer,
        "channel": found.channel,
        "scope": found.scope.to_dict(),
    }


def acks() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].sent_messages


def test_r1_4_human_mail_is_an_advisory_record_classified_and_acknowledged(aws: Any) -> None:
    key, response = deliver(mail())
    assert response == {"batchItemFailures": []}
    found = record(key)
    assert found["disposition"] == "advisory"
    assert found["official"] is False and found["channel"] == "email"
    assert found["scope"]["label"] == "outage" and found["scope"]["sub"] == "email"
    assert "ticket_recommended" in found["scope"]["flags"]  # R1.5
    sent = acks()
    assert len(sent) == 1
    raw = sent[0].raw_data if hasattr(sent[0], "raw_data") else str(sent[0].raw_data)
    assert "Auto-Submitted: auto-replied" in raw
    assert f"[#{found['id']}]" in raw
    assert "anna@flowershop.example" in sent[0].destinations


def test_redelivery_three_times_creates_one_record_and_one_ack(aws: Any) -> None:
    from app import runtime

    key = store_raw(mail())
    for _ in range(3):
        deliver(b"", key=key)
    rid = mail_ticket_id(BUCKET, key)
    assert len(runtime().store.tickets.audit_trail(rid)) == 1
    assert len(acks()) == 1


def test_a_crash_on_one_record_leaves_the_others_processed_and_that_one_retried(aws: Any) -> None:
    from app import runtime

    good = [store_raw(mail(subject=f"Вопрос {i}", body="Как сменить тариф?")) for i in range(2)]
    records = [
        sqs_record(BUCKET, good[0], source="a@b.example", verdicts=PASS),
        sqs_record(BUCKET, "raw/does-not-exist", source="a@b.example", verdicts=PASS),
        {**sqs_record(BUCKET, good[1], source="a@b.example", verdicts=PASS)},
        {**sqs_record(BUCKET, good[1], source="a@b.example", verdicts=PASS), "body": "not json"},
    ]
    response = mail_batch({"Records": records}, runtime().mail)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {records[1]["messageId"], records[3]["messageId"]}
    assert all(record(k)["disposition"] == "advisory" for k in good)


def test_a_batch_where_every_record_fails_reports_them_all(aws: Any) -> None:
    from app import runtime

    records = [
        sqs_record(BUCKET, f"raw/missing-{i}", source="a@b.example", verdicts=PASS)
        for i in range(2)
    ]
    response = mail_batch({"Records": records}, runtime().mail)
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {
        r["messageId"] for r in records
    }


def test_the_sqs_handler_is_wired_in_the_app(client: Any) -> None:
    key = store_raw(mail())
    event = {"Records": [sqs_record(BUCKET, key, source="a@b.example", verdicts=PASS)]}
    result = client.lambda_.invoke("on_mail", event)
    assert result.payload == {"batchItemFailures": []}
    assert record(key)["disposition"] == "advisory"


@pytest.mark.parametrize(
    ("raw", "source", "reason"),
    [
        (mail(Auto_Submitted="auto-replied"), "a@b.example", "auto_submitted"),
        (mail(Precedence="bulk"), "a@b.example", "precedence"),
        (mail(X_Autoreply="yes"), "a@b.example", "autoreply_headers"),
        (mail(List_Id="<news.example>"), "a@b.example", "mailing_list"),
        (mail(sender="MAILER-DAEMON@mx.example"), "a@b.example", "daemon_sender"),
        (mail(subject="Undelivered Mail Returned to Sender"), "a@b.example", "bounce_signature"),
        (mail(), "", "null_sender"),
    ],
    ids=[
        "auto-submitted",
        "precedence",
        "x-autoreply",
        "list-id",
        "mailer-daemon",
        "bounce",
        "null",
    ],
)
def test_machine_mail_is_recorded_with_its_reason_and_never_answered(
    aws: Any, raw: bytes, source: str, reason: str
) -> None:
    key, _ = deliver(raw, source=source)
    found = record(key)
    assert found["disposition"] == "machine"
    assert found["reason"].startswith(reason)
    assert acks() == []


def test_a_bounce_of_our_own_acknowledgement_is_not_answered(aws: Any) -> None:
    deliver(mail())
    ack = str(acks()[0].raw_data)
    bounce = EmailMessage()
    bounce["From"] = "postbox@mx.flowershop.example"
    bounce["To"] = "support@support.hosting.example"
    bounce["Subject"] = "Ваше письмо"
    bounce.set_content("Your message could not be delivered.\n\n" + ack)
    key, _ = deliver(bounce.as_bytes())
    assert record(key)["disposition"] == "machine"
    assert len(acks()) == 1


def test_spam_or_virus_verdict_fail_is_quarantined(aws: Any) -> None:
    key, _ = deliver(mail(), verdicts={**PASS, "virus": "FAIL"})
    found = record(key)
    assert found["disposition"] == "quarantine" and "virus" in found["reason"]
    assert acks() == []


def test_acknowledgements_are_limited_to_three_per_sender_per_day(aws: Any) -> None:
    for i in range(5):
        deliver(mail(subject=f"Вопрос {i}", body="Как сменить тариф?"))
    assert len(acks()) == 3


def test_a_sender_failing_dmarc_is_not_linked_to_the_account_it_claims(aws: Any) -> None:
    sub = register("anna@flowershop.example")
    key, _ = deliver(mail(), verdicts={**PASS, "dmarc": "FAIL", "spf": "FAIL"})
    found = record(key)
    assert found["customer"] != sub
    assert "sender_unverified" in found["scope"]["flags"]
    key, _ = deliver(mail(subject="ещё раз"), verdicts=PASS)
    assert record(key)["customer"] == sub


def test_a_25_mb_attachment_is_stored_in_s3_and_no_item_exceeds_64_kb(aws: Any) -> None:
    message = EmailMessage()
    message["From"] = "anna@flowershop.example"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = "Логи сервера"
    message.set_content("Прикладываю логи: сайт отдаёт 503. " + "Подробности. " * 5000)
    payload = os.urandom(25 * 1024 * 1024)
    message.add_attachment(payload, maintype="application", subtype="gzip", filename="logs.tar.gz")
    key, response = deliver(message.as_bytes())
    assert response == {"batchItemFailures": []}
    found = record(key)
    [attachment] = found["attachments"]
    assert attachment["name"] == "logs.tar.gz" and attachment["size"] == 25 * 1024 * 1024
    s3 = boto3.client("s3", region_name="eu-central-1")
    head = s3.head_object(Bucket=BUCKET, Key=attachment["s3_key"])
    assert head["ContentLength"] == 25 * 1024 * 1024
    assert attachment["sha256"] == hashlib.sha256(payload).hexdigest()
    stored = s3.get_object(Bucket=BUCKET, Key=attachment["s3_key"])["Body"].read()
    assert stored == payload
    scan = aws.scan(TableName=os.environ["SUPPORT_TABLE_NAME"])
    sizes = [len(json.dumps(item)) for item in scan["Items"]]
    assert max(sizes) < 64 * 1024


def test_a_reply_by_the_owner_joins_the_thread_and_a_stranger_starts_a_new_record(aws: Any) -> None:
    from app import runtime

    key, _ = deliver(mail(subject="FTP refuses connections", body="FileZilla: Connection refused"))
    first = record(key)["id"]
    ack_id = str(acks()[0].raw_data).split("Message-ID: <", 1)[1].split(">", 1)[0]

    reply = mail(
        subject=f"Re: [#{first}] FTP refuses connections",
        body="It works again, thanks!",
        In_Reply_To=f"<{ack_id}>",
    )
    key2, _ = deliver(reply)
    assert record(key2)["disposition"] == "reply"
    assert record(key2)["thread_of"] == first
    thread = runtime().store.tickets.thread(first)
    assert [m.text for m in thread.messages] == ["It works again, thanks!"]

    stranger = mail(
        sender="mallory@evil.example", subject=f"Re: [#{first}] hijack", body="Как сменить тариф?"
    )
    key3, _ = deliver(stranger)
    assert record(key3)["disposition"] == "advisory"
    assert len(runtime().store.tickets.thread(first).messages) == 1


def test_a_tagged_reply_to_a_cabinet_ticket_by_its_owner_is_appended(aws: Any) -> None:
    from app import runtime
    from chalicelib.domain.identity import Principal
    from chalicelib.intake.cabinet import NewTicket

    sub = register("tom@brightlabs.example")
    owner = Principal(sub, "tom@brightlabs.example", frozenset())
    body, _ = runtime().cabinet.create_ticket(
        owner, NewTicket(subject="FTP", text="FTP не подключается"), None
    )
    reply = mail(
        sender="tom@brightlabs.example",
        subject=f"Re: [#{body['id']}] FTP",
        body="Работает, спасибо",
    )
    key, _ = deliver(reply)
    assert record(key)["disposition"] == "reply"
    thread = runtime().store.tickets.thread(body["id"])
    assert [m.text for m in thread.messages] == ["Работает, спасибо"]
    assert thread.ticket.sla.state == "pending"  # a customer message never stops the clock


def test_a_foreign_tag_in_a_subject_neither_threads_nor_reaches_our_subjects(aws: Any) -> None:
    """Issue 31: a customer whose subject carries another request's tag got answers with
    both tags, and their reply without In-Reply-To became a new record."""
    from app import runtime
    from chalicelib.domain.identity import Principal
    from chalicelib.intake.cabinet import NewTicket
    from chalicelib.outbound.compose import fitted_subject

    anna = Principal(register("anna@elsewhere.example"), "anna@elsewhere.example", frozenset())
    foreign, _ = runtime().cabinet.create_ticket(
        anna, NewTicket(subject="FTP", text="FTP не подключается"), None
    )
    first = mail(
        sender="tom@brightlabs.example",
        subject=f"Re: [#{foreign['id']}] my question",
        body="Как сменить тариф хостинга?",
    )
    key, _ = deliver(first)
    mine = record(key)
    assert mine["disposition"] == "advisory" and mine["id"] != foreign["id"]
    # What our letters say: only our tag.
    line = fitted_subject(
        "Re: {subject} [#{id}]",
        {"subject": f"Re: [#{foreign['id']}] my question", "id": mine["id"]},
    )
    assert line == f"Re: Re: my question [#{mine['id']}]"
    # A reply that carries both tags (as the old subjects did), without In-Reply-To,
    # joins the sender's own request.
    reply = mail(
        sender="tom@brightlabs.example",
        subject=f"Re: Re: [#{foreign['id']}] my question [#{mine['id']}]",
        body="Спасибо, а ещё вопрос",
    )
    key, _ = deliver(reply)
    assert record(key)["disposition"] == "reply"
    thread = runtime().store.tickets.thread(mine["id"])
    assert [m.text for m in thread.messages] == ["Спасибо, а ещё вопрос"]
    assert not runtime().store.tickets.thread(foreign["id"]).messages
