"""The SQS batch: Powertools BatchProcessor, so one bad mail is retried alone.

The event source mapping reports batch item failures (`ReportBatchItemFailures`, set in
the merge template); a record that keeps failing reaches the dead-letter queue with its
raw mail still in S3, from where `python -m chalicelib replay --dlq` re-drives it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import observability as obs
from chalicelib.intake.chat_import import ChatImport
from chalicelib.intake.mail.pipeline import MailIntake, Outcome, parse_notification


def s3_objects(body: str) -> list[tuple[str, str]] | None:
    """(bucket, key) of an S3 event notification body; None if it is not one."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return None
    found = []
    for record in event["Records"]:
        if isinstance(record, dict) and record.get("eventSource") == "aws:s3":
            s3 = record.get("s3") or {}
            key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
            found.append((str((s3.get("bucket") or {}).get("name", "")), key))
    return found


def mail_batch(
    event: dict[str, Any], intake: MailIntake, imports: ChatImport | None = None
) -> dict[str, Any]:
    """Process an SQS event of mail notifications; returns the partial-failure response.

    The queue also carries S3 notifications for exported chat transcripts (imports/chat/),
    which go to the chat import.
    """
    # When every record fails, report them all as item failures rather than raising:
    # the queue retries each the same way, and the local poller keeps running.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(record: SQSRecord) -> Outcome | list[dict[str, Any]]:
        objects = s3_objects(record.body)
        if objects is not None and imports is not None:
            return [imports.process_object(bucket, key) for bucket, key in objects]
        try:
            outcome = intake.process(parse_notification(record.body))
        except Exception:
            obs.count(obs.MAIL_FAILED)
            obs.logger.exception("mail not processed", extra={"message_id": record.message_id})
            raise
        obs.logger.info(
            "mail processed",
            extra={
                "record_id": outcome.record_id,
                "disposition": outcome.disposition,
                "reason": outcome.reason,
                "new_record": outcome.created,  # "created" is a reserved LogRecord field
            },
        )
        return outcome

    response = process_partial_response(event=event, record_handler=handle, processor=processor)
    return dict(response)
