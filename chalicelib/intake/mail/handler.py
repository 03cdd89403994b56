"""The SQS batch: Powertools BatchProcessor, so one bad mail is retried alone.

The event source mapping reports batch item failures (`ReportBatchItemFailures`, set in
the merge template); a record that keeps failing reaches the dead-letter queue with its
raw mail still in S3, from where `python -m chalicelib replay --dlq` re-drives it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import observability as obs
from chalicelib.intake.chat_import import ChatImport
from chalicelib.intake.mail.adapter import MailError, MailIntake, Outcome, parse_notification
from chalicelib.uploads import KEY_PREFIX as ATTACHMENTS_PREFIX
from chalicelib.values import frozen

SCAN_RESULT = "GuardDuty Malware Protection Object Scan Result"


def s3_objects(body: str) -> list[tuple[str, str]] | None:
    """(bucket, key) of an S3 event notification body, or of a malware scan's result;
    None if it is neither."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("detail-type") == SCAN_RESULT:
        # GuardDuty Malware Protection for S3, through EventBridge: the object scanned.
        details = (event.get("detail") or {}).get("s3ObjectDetails") or {}
        return [(str(details.get("bucketName", "")), str(details.get("objectKey", "")))]
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return None
    found = []
    for record in event["Records"]:
        if isinstance(record, dict) and record.get("eventSource") == "aws:s3":
            s3 = record.get("s3") or {}
            key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
            found.append((str((s3.get("bucket") or {}).get("name", "")), key))
    return found


SES_SETUP_OBJECT = "AMAZON_SES_SETUP_NOTIFICATION"


@frozen
class Feedback:
    """SES's word on one of our outbound mails: a bounce or a complaint."""

    message_id: str  # our Message-ID header
    addresses: tuple[str, ...]
    permanent: bool
    complaint: bool
    tags: dict[str, str] = field(default_factory=dict)  # the SES message tags we sent


def feedback_of(body: str) -> Feedback | None:
    """A Bounce or Complaint notification (SNS envelope or raw), else None."""
    try:
        event = json.loads(body)
        inner = json.loads(event["Message"]) if isinstance(event.get("Message"), str) else event
    except (ValueError, TypeError, AttributeError):
        return None
    if not isinstance(inner, dict):
        return None
    kind = inner.get("notificationType") or inner.get("eventType")
    if kind not in ("Bounce", "Complaint"):
        return None
    mail = inner.get("mail") or {}
    headers = (mail.get("commonHeaders") or {}) if isinstance(mail, dict) else {}
    message_id = str(headers.get("messageId") or "")
    if kind == "Bounce":
        bounce = inner.get("bounce") or {}
        recipients = bounce.get("bouncedRecipients") or []
        permanent = bounce.get("bounceType") == "Permanent"
    else:
        recipients = (inner.get("complaint") or {}).get("complainedRecipients") or []
        permanent = False
    addresses = tuple(
        str(r.get("emailAddress", "")).strip().lower()
        for r in recipients
        if isinstance(r, dict) and r.get("emailAddress")
    )
    raw_tags = mail.get("tags") if isinstance(mail, dict) else None
    tags = {
        str(name): str(values[0])[:64]
        for name, values in (raw_tags.items() if isinstance(raw_tags, dict) else ())
        if name in ("request", "item") and isinstance(values, list) and values
    }
    return Feedback(message_id, addresses, permanent, kind == "Complaint", tags)


def setup_notice(body: str) -> str | None:
    """What a queue message is if AWS sent it while wiring the mail path, else None.

    S3 sends `s3:TestEvent` when a bucket notification is created; SES writes
    AMAZON_SES_SETUP_NOTIFICATION into the bucket and confirms its topic when a receipt
    rule is saved; SNS may deliver a subscription confirmation. None of them is mail, and
    none may end in the dead-letter queue (its alarm would fire on day one).
    """
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if event.get("Event") == "s3:TestEvent":
        return "s3:TestEvent"
    if event.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return f"sns {event['Type']}"
    inner: Any = event
    if isinstance(event.get("Message"), str):
        try:
            inner = json.loads(event["Message"])
        except ValueError:
            return None
    if not isinstance(inner, dict):
        return None
    kind = inner.get("notificationType") or inner.get("eventType")
    if kind is not None and kind != "Received":
        return f"ses {str(kind)[:60]}"
    action = (inner.get("receipt") or {}).get("action") or {}
    if str(action.get("objectKey", "")).endswith(SES_SETUP_OBJECT):
        return "ses setup object"
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(
            isinstance(r, dict)
            and str(((r.get("s3") or {}).get("object") or {}).get("key", "")).endswith(
                SES_SETUP_OBJECT
            )
            for r in records
        )
    ):
        return "ses setup object"
    return None


class FeedbackReader(Protocol):
    def bounced(
        self,
        message_id: str,
        address: str,
        *,
        permanent: bool,
        complaint: bool,
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """Record SES feedback on one of our mails; False if it is not ours."""
        ...


class UploadChecker(Protocol):
    def uploaded(self, bucket: str, key: str) -> str:
        """Check the attachment an uploaded object is; its state after the check."""
        ...


def _object(
    bucket: str, key: str, imports: ChatImport | None, uploads: UploadChecker | None
) -> dict[str, Any] | str:
    if key.startswith(ATTACHMENTS_PREFIX):
        if uploads is None:
            raise RuntimeError("an attachment upload, and no checker for it")
        return uploads.uploaded(bucket, key)
    if imports is None:
        raise RuntimeError("a chat export, and no import for it")
    return imports.process_object(bucket, key)


def _record_feedback(said: Feedback, feedback: FeedbackReader) -> str:
    ours = [
        feedback.bounced(
            said.message_id, a, permanent=said.permanent, complaint=said.complaint, tags=said.tags
        )
        for a in said.addresses
    ]
    obs.logger.info("mail feedback", extra={"complaint": said.complaint, "ours": any(ours)})
    return "feedback"


def mail_batch(
    event: dict[str, Any],
    intake: MailIntake,
    imports: ChatImport | None = None,
    feedback: FeedbackReader | None = None,
    uploads: UploadChecker | None = None,
) -> dict[str, Any]:
    """Process an SQS event of mail notifications; returns the partial-failure response.

    The queue also carries the bucket's own notifications: exported chat transcripts
    (imports/chat/) go to the chat import, ticket attachments (attachments/) to their check.
    """
    # When every record fails, report them all as item failures rather than raising:
    # the queue retries each the same way, and the local poller keeps running.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    obs.count(obs.MAIL_NOTIFICATIONS, len(event.get("Records") or []))

    def handle(record: SQSRecord) -> Outcome | list[dict[str, Any] | str] | str:
        said = feedback_of(record.body)
        if said is not None and feedback is not None:
            return _record_feedback(said, feedback)
        notice = setup_notice(record.body)
        if notice is not None:
            obs.logger.info("setup notification passed over", extra={"notification": notice})
            return notice
        objects = s3_objects(record.body)
        if objects is not None:
            return [_object(bucket, key, imports, uploads) for bucket, key in objects]
        try:
            outcome = intake.process(parse_notification(record.body))
        except Exception as error:
            obs.count(obs.MAIL_FAILED)
            if not isinstance(error, MailError):
                # Not a known condition (unreadable object, a send to retry): a bug. The
                # batch processor keeps Lambda's Errors at 0, so it is counted here.
                obs.unhandled("mail")
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
