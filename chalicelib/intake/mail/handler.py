"""The SQS batch: Powertools BatchProcessor, so one bad mail is retried alone.

The event source mapping reports batch item failures (`ReportBatchItemFailures`, set in
the merge template); a record that keeps failing reaches the dead-letter queue with its
raw mail still in S3, from where `python -m chalicelib replay --dlq` re-drives it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import observability as obs
from chalicelib.intake.mail.pipeline import MailIntake, Outcome, parse_notification


def mail_batch(event: dict[str, Any], intake: MailIntake) -> dict[str, Any]:
    """Process an SQS event of mail notifications; returns the partial-failure response."""
    # When every record fails, report them all as item failures rather than raising:
    # the queue retries each the same way, and the local poller keeps running.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(record: SQSRecord) -> Outcome:
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
