"""Exported transcripts dropped into S3 go through the chat pipeline (batch import)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3

from chalicelib.intake.chat_import import transcripts_from_export
from chalicelib.intake.mail.handler import mail_batch

BUCKET = os.environ["MAIL_BUCKET"]
SKYPE_EXPORT = {
    "userId": "8:live:support-desk",
    "exportDate": "2026-11-24T20:00",
    "conversations": [
        {
            "id": "8:live:ops-lumen",
            "displayName": "Lumen Media",
            "MessageList": [
                {
                    "id": "3",
                    "originalarrivaltime": "2026-11-24T09:05:00.000Z",
                    "messagetype": "RichText",
                    "from": "8:live:support-desk",
                    "content": "Создайте, пожалуйста, заявку в личном кабинете.",
                },
                {
                    "id": "2",
                    "originalarrivaltime": "2026-11-24T09:01:00.000Z",
                    "messagetype": "Event/Call",
                    "from": "8:live:ops-lumen",
                    "content": "<partlist/>",
                },
                {
                    "id": "1",
                    "originalarrivaltime": "2026-11-24T09:00:00.000Z",
                    "messagetype": "RichText",
                    "from": "8:live:ops-lumen",
                    "content": "Hi, our sites all show <b>503</b> from the web server. ops@lumen.example",
                },
            ],
        }
    ],
}


def s3_event(key: str) -> dict[str, Any]:
    body = {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}
        ]
    }
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:q",
                "awsRegion": "eu-central-1",
            }
        ]
    }


def drop(name: str, content: Any) -> str:
    key = f"imports/chat/{name}"
    boto3.client("s3", region_name="eu-central-1").put_object(
        Bucket=BUCKET, Key=key, Body=json.dumps(content, ensure_ascii=False).encode()
    )
    return key


def report(key: str) -> dict[str, Any]:
    name = key.removeprefix("imports/chat/")
    body = boto3.client("s3", region_name="eu-central-1").get_object(
        Bucket=BUCKET, Key=f"imports/reports/{name}.report.json"
    )["Body"]
    return json.loads(body.read())


def test_skype_export_turns_are_ordered_and_the_exporting_account_is_the_operator() -> None:
    [transcript] = transcripts_from_export(SKYPE_EXPORT)
    assert transcript["channel"] == "skype"
    assert [m["from"] for m in transcript["messages"]] == ["customer", "operator"]
    assert transcript["messages"][0]["text"].startswith("Hi, our sites all show 503")
    assert transcript["started_at"] == "2026-11-24T09:00:00.000+00:00"


def test_a_skype_export_dropped_in_s3_becomes_advisory_records(aws: Any) -> None:
    from app import runtime

    key = drop("skype-messages.json", SKYPE_EXPORT)
    response = mail_batch(s3_event(key), runtime().mail, runtime().imports)
    assert response == {"batchItemFailures": []}
    [entry] = report(key)["transcripts"]
    assert entry["outcome"] == "recorded"
    stored = runtime().store.tickets.get(entry["record_id"])
    assert stored.channel == "skype" and stored.official is False
    assert stored.scope.label == "outage" and "ticket_recommended" in stored.scope.flags


def test_a_bad_transcript_in_a_file_is_rejected_with_its_reason_and_the_rest_recorded(
    aws: Any,
) -> None:
    from app import runtime

    good = {
        "id": "export-1",
        "channel": "chat",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:05:00+03:00",
        "messages": [
            {"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Как сменить тариф?"}
        ],
    }
    bad = {**good, "id": "export-2", "messages": []}
    key = drop("batch.json", {"transcripts": [good, bad]})
    mail_batch(s3_event(key), runtime().mail, runtime().imports)
    outcomes = [(e["id"], e["outcome"], e.get("reason")) for e in report(key)["transcripts"]]
    assert outcomes == [
        ("export-1", "recorded", None),
        ("export-2", "rejected", "messages_required"),
    ]
    again = drop("batch-again.json", [good])
    mail_batch(s3_event(again), runtime().mail, runtime().imports)
    assert report(again)["transcripts"][0]["outcome"] == "duplicate"


def test_a_file_that_is_not_an_export_is_reported_not_retried(aws: Any) -> None:
    from app import runtime

    key = drop("notes.json", {"hello": "world"})
    response = mail_batch(s3_event(key), runtime().mail, runtime().imports)
    assert response == {"batchItemFailures": []}
    assert "Skype export" in report(key)["error"]
