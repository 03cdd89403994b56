"""Notices that leave the system: escalations to the on-duty channel, incidents to management.

A notice is read by a person (R2.9): an e-mail subscriber gets a subject naming the
ticket and how late it is, and a body with the subject, the customer, the channel and a
link to the ticket in the staff console. Machines get the same facts as JSON in the
message attributes (`kind` to filter on, `payload` to parse), so a subscription's filter
policy can route warnings away from the on-duty inbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.timeutil import parse_iso

SUBJECT_MAX = 100  # SNS: ASCII, at most 100 characters


class Publisher(Protocol):
    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        """Send one notice; raise if it could not be handed over."""
        ...


def console_link(console_url: str, ticket_id: str) -> str:
    """Where the staff console opens one request."""
    return f"{console_url.rstrip('/')}/#/requests/{ticket_id}"


class Readable:
    """The words of a notice: (subject, body) for its kind."""

    def __init__(self, console_url: str, timezone: str) -> None:
        self._console = console_url
        self._zone = ZoneInfo(timezone)
        self._timezone = timezone
        self._kinds: dict[str, Callable[[dict[str, Any]], tuple[str, list[str]]]] = {
            "sla_breach": self._breach,
            "sla_warning": self._warning,
            "incident_breach": self._incident,
            "abusive_request": self._abuse,
        }

    def __call__(self, kind: str, message: dict[str, Any]) -> tuple[str, str]:
        words = self._kinds.get(kind)
        if words is None:
            return f"Support notice: {kind}"[:SUBJECT_MAX], json.dumps(message, indent=2)
        subject, lines = words(message)
        return _ascii(subject)[:SUBJECT_MAX], "\n".join(lines) + "\n"

    def _ticket_lines(self, message: dict[str, Any]) -> list[str]:
        ticket = str(message.get("ticket_id"))
        email = message.get("customer_email")
        customer = f"{email} ({message.get('customer')})" if email else message.get("customer")
        return [
            f"Ticket:   {ticket}",
            f"Subject:  {message.get('subject') or '(none)'}",
            f"Customer: {customer}",
            f"Channel:  {message.get('channel') or 'cabinet'}",
            f"Due at:   {self._time(message.get('due_at'))}",
            f"Open it:  {console_link(self._console, ticket)}",
        ]

    def _breach(self, message: dict[str, Any]) -> tuple[str, list[str]]:
        late = _minutes(message.get("minutes_late"))
        subject = f"SLA breach: {message.get('ticket_id')} is {late} min late"
        head = f"An official ticket has waited {late} minutes past its deadline (R2.4)."
        return subject, [head, "", *self._ticket_lines(message)]

    def _warning(self, message: dict[str, Any]) -> tuple[str, list[str]]:
        left = _minutes(message.get("minutes_left"))
        subject = f"SLA warning: {message.get('ticket_id')} is due in {left} min"
        head = f"An official ticket is due for an answer in {left} minutes (R2.4)."
        return subject, [head, "", *self._ticket_lines(message)]

    def _incident(self, message: dict[str, Any]) -> tuple[str, list[str]]:
        count = message.get("breached_requests")
        subject = f"SLA breach: {count} requests of incident {message.get('incident')}"
        oldest = str(message.get("oldest_ticket"))
        return subject, [
            f"Requests linked to one incident are past their deadline (R2.4, R3.3): {count}.",
            "",
            f"Incident: {message.get('incident')} {message.get('title') or ''}".rstrip(),
            f"Services: {', '.join(message.get('services') or [])}",
            f"State:    {message.get('state')}",
            f"Oldest:   {oldest}, waiting since {self._time(message.get('oldest_waiting_since'))}",
            f"Open it:  {console_link(self._console, oldest)}",
        ]

    def _abuse(self, message: dict[str, Any]) -> tuple[str, list[str]]:
        subject = f"Abusive request {message.get('ticket_id')} (R6.2)"
        cues = ", ".join(str(e.get("match")) for e in message.get("evidence") or [])
        lines = self._ticket_lines(message)
        return subject, [
            "A customer's request was flagged abusive; support was not refused (R6.2).",
            "",
            *[line for line in lines if not line.startswith("Due at")],
            f"Evidence: {cues}",
        ]

    def _time(self, value: object) -> str:
        if not isinstance(value, str) or not value:
            return "-"
        local = parse_iso(value).astimezone(self._zone)
        return f"{local:%Y-%m-%d %H:%M} ({self._timezone}, {local.tzname()})"


def _minutes(value: object) -> int:
    return round(value) if isinstance(value, int | float) else 0


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


class SnsPublisher:
    """SNS: a readable subject and body; `kind`, `ticket_id` and the JSON `payload` as
    message attributes, for filter policies and machine subscribers."""

    def __init__(self, client: Any, readable: Readable) -> None:
        self._client = client
        self._readable = readable

    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        subject, body = self._readable(kind, message)
        attributes = {
            "kind": {"DataType": "String", "StringValue": kind},
            "payload": {
                "DataType": "String",
                "StringValue": json.dumps({"kind": kind, **message}, ensure_ascii=False),
            },
        }
        if message.get("ticket_id"):
            attributes["ticket_id"] = {"DataType": "String", "StringValue": message["ticket_id"]}
        self._client.publish(
            TopicArn=topic_arn, Subject=subject, Message=body, MessageAttributes=attributes
        )


def notice_of(sqs_body: str) -> dict[str, Any]:
    """A notice as a subscriber's queue receives it (the SNS envelope): its payload."""
    envelope = json.loads(sqs_body)
    attributes = envelope.get("MessageAttributes") or {}
    payload = attributes.get("payload", {}).get("Value")
    loaded: dict[str, Any] = json.loads(payload) if payload else json.loads(envelope["Message"])
    return loaded
