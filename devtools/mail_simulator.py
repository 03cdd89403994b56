"""The local SES stand-in's mailbox simulator (SES's own: bounce@, complaint@ and
suppressionlist@simulator.amazonses.com). Mail the stack sends to one of them produces
the event SES would publish for the configuration set, through the same feedback topic
and mail queue as in production, so suppression and `delivery_failed` can be tried
locally (README session "A bounce")."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIMULATOR = "simulator.amazonses.com"
# mailbox -> (eventType, the event's own part)
OUTCOMES: dict[str, tuple[str, dict[str, Any]]] = {
    "bounce": ("Bounce", {"bounceType": "Permanent", "bounceSubType": "General"}),
    "suppressionlist": (
        "Bounce",
        {"bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList"},
    ),
    "complaint": ("Complaint", {"complaintFeedbackType": "abuse"}),
}


def feedback_event(raw: bytes) -> dict[str, Any] | None:
    """The SES event a sent mail would cause, or None for any other recipient."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    to = str(message.get("To", "")).strip().strip("<>").lower()
    local, _, domain = to.rpartition("@")
    if domain != SIMULATOR or local not in OUTCOMES:
        return None
    kind, detail = OUTCOMES[local]
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    header = str(message.get("X-SES-MESSAGE-TAGS", ""))
    tags = {
        name.strip(): [value.strip()]
        for name, _, value in (pair.partition("=") for pair in header.split(","))
        if name.strip() and value.strip()
    }
    mail = {
        "tags": tags,
        "timestamp": at,
        "messageId": "local-" + hashlib.sha256(raw).hexdigest()[:24],
        "destination": [to],
        "commonHeaders": {"messageId": str(message.get("Message-ID", "")), "to": [to]},
    }
    recipients = [{"emailAddress": to}]
    if kind == "Bounce":
        return {
            "eventType": kind,
            "mail": mail,
            "bounce": {**detail, "bouncedRecipients": recipients, "timestamp": at},
        }
    return {
        "eventType": kind,
        "mail": mail,
        "complaint": {**detail, "complainedRecipients": recipients, "timestamp": at},
    }


def mails_in(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return [e.name for e in entries if e.name.endswith(".eml")]


def watch_outbox(folder: Path, stop: threading.Event) -> None:
    """Publishes the feedback of each new mail to a simulator address (once)."""
    import boto3

    sns = boto3.client("sns", region_name=os.environ.get("AWS_DEFAULT_REGION", "eu-central-1"))
    topic = os.environ["MAIL_FEEDBACK_TOPIC_ARN"]
    seen = set(mails_in(folder))
    while not stop.wait(1):
        # only the new names are sorted: a fan-out leaves thousands in the folder
        for name in sorted(set(mails_in(folder)) - seen):
            seen.add(name)
            path = folder / name
            event = feedback_event(path.read_bytes())
            if event is not None:
                sns.publish(TopicArn=topic, Message=json.dumps(event))
                print(f"SES simulator: {event['eventType']} for {path.name}", flush=True)
