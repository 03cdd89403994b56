"""The local stand-ins for SES receiving and for Lambda's SQS poller."""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from chalicelib import observability as obs
from devtools.resources import REGION, ses_notification

LOCAL_VERDICTS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


def push_mail(raw: bytes, *, source: str | None = None) -> str:
    """What SES does on receipt: raw MIME to S3 under raw/, then the SNS notification."""
    import boto3

    key = f"raw/{uuid.uuid4().hex}"
    bucket = os.environ["MAIL_BUCKET"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=raw)
    boto3.client("sns", region_name=REGION).publish(
        TopicArn=os.environ["MAIL_TOPIC_ARN"],
        Message=ses_notification(
            bucket, key, source=source or "sender@local.example", verdicts=LOCAL_VERDICTS
        ),
    )
    return key


class Settled:
    """What the mail poller finished with, by S3 key: the inbox moves a file only once
    its mail is stored (or has failed for good), so a stack stopped in between still has
    the file in the inbox and receives it on the next start."""

    MAX_RECEIVES = 5  # the mail queue's redrive policy: then it is dead-lettered

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, bool] = {}

    def record(self, key: str, stored: bool) -> None:
        with self._lock:
            self._done[key] = stored

    def take(self, key: str) -> bool | None:
        """True once stored, False once failed for good, None while under way."""
        with self._lock:
            return self._done.pop(key, None)


SETTLED = Settled()


def watch_inbox(folder: Path, stop: threading.Event, settled: Settled = SETTLED) -> None:
    """Every .eml dropped into `folder` is received as if by SES; once its record is
    stored it moves to done/, or to failed/ if it could not be processed."""
    done, failed = folder / "done", folder / "failed"
    done.mkdir(parents=True, exist_ok=True)
    pending: dict[str, Path] = {}  # S3 key -> the file it came from
    while not stop.wait(1):
        under_way = set(pending.values())
        for path in sorted(folder.glob("*.eml")):
            if path in under_way:
                continue
            try:
                key = push_mail(path.read_bytes())
            except Exception as error:  # keep watching; the file stays for another try
                print(f"inbox: {path.name} not received: {error}", flush=True)
                continue
            pending[key] = path
            print(
                f"inbox: {path.name} received as s3://{os.environ['MAIL_BUCKET']}/{key}", flush=True
            )
        for key, path in list(pending.items()):
            outcome = settled.take(key)
            if outcome is None:
                continue
            del pending[key]
            target = done if outcome else failed
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target / path.name)
            if not outcome:
                print(f"inbox: {path.name} could not be processed: moved to {target}/", flush=True)


def _object_key(body: str) -> str | None:
    """The S3 key of the mail an SQS message (SNS around SES's notification) is about."""
    try:
        outer = json.loads(body)
        inner = json.loads(outer["Message"]) if "Message" in outer else outer
        return str(inner["receipt"]["action"]["objectKey"])
    except (ValueError, KeyError, TypeError):
        return None


# Lambda's poller waits on the queue (a long poll): the stand-in holds it until a message
# comes or the wait is over (devtools/moto_process.py). An empty answer is asked again
# after a pause, should a stand-in answer at once.
POLL_WAIT = 20
POLL_PAUSE = 0.25


def poll_queue(stop: threading.Event) -> None:
    """Lambda's SQS poller: batches to the handler, deletes what succeeded, retries the rest."""
    import boto3

    from chalicelib.config import Settings
    from chalicelib.intake.mail.handler import mail_batch
    from chalicelib.runtime import build_runtime

    sqs = boto3.client("sqs", region_name=REGION)
    url = os.environ["MAIL_QUEUE_URL"]
    runtime = build_runtime(Settings.from_env(os.environ))
    while not stop.is_set():
        try:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                WaitTimeSeconds=POLL_WAIT,
            ).get("Messages", [])
        except Exception as error:
            print(f"mail poller: {error}", flush=True)
            time.sleep(2)
            continue
        if not batch:
            stop.wait(POLL_PAUSE)
            continue
        event = {"Records": [_lambda_record(m) for m in batch]}
        response = mail_batch(event, runtime.mail, runtime.imports, runtime.customer_mail)
        obs.flush()  # what Lambda's log_metrics middleware does after each batch
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in batch:
            key = _object_key(message["Body"])
            if message["MessageId"] in failed:
                # Lambda would wait for the visibility timeout; locally, retry soon.
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=5
                )
                receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                if key and receives >= Settled.MAX_RECEIVES:
                    SETTLED.record(key, stored=False)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if key:
                    SETTLED.record(key, stored=True)
        print(
            f"mail poller: {len(batch) - len(failed)} processed, {len(failed)} to retry", flush=True
        )


def _lambda_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:local",
        "awsRegion": REGION,
    }


def redrive_dead_letters() -> int:
    """Move every message from the dead-letter queue back to the mail queue."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=os.environ["MAIL_DLQ_URL"], MaxNumberOfMessages=10
        ).get("Messages", [])
        if not batch:
            return moved
        for message in batch:
            sqs.send_message(QueueUrl=os.environ["MAIL_QUEUE_URL"], MessageBody=message["Body"])
            sqs.delete_message(
                QueueUrl=os.environ["MAIL_DLQ_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
            moved += 1


def wait_for_record(record_id: str, timeout: float = 30) -> dict[str, Any]:
    """The intake's record once the poller has processed the mail (or {} after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = _tickets().get(record_id)
        if record is not None:
            origin = record.origin
            return {
                "disposition": origin.disposition if origin else "advisory",
                "reason": origin.reason if origin else None,
                "thread_of": origin.thread_of if origin else None,
                "scope": record.scope.to_dict(),
            }
        time.sleep(0.2)
    return {}


@functools.cache
def _tickets() -> Any:
    from chalicelib.config import Settings
    from chalicelib.runtime import build_runtime

    return build_runtime(Settings.from_env(os.environ)).store.tickets
