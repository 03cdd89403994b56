"""The conversation's items in a request's partition: messages (and internal notes),
the message-id claims, delay notices and audit events (see `keys`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.people import StaffRef
from chalicelib.domain.tickets import AuditEvent, DelayNotice, Delivery, Message
from chalicelib.storage.keys import (
    audit_key,
    delay_notice_key,
    message_id_key,
    message_key,
    request_pk,
)


def message_to_item(message: Message) -> dict[str, Any]:
    return {
        **message_key(message.ticket_id, message.at, message.id),
        "entity": "message",
        "id": message.id,
        "ticket_id": message.ticket_id,
        "author": message.author,
        "author_id": message.author_id,
        "text": message.text,
        "at": message.at,
        "delivery": message.delivery.to_dict() if message.delivery else None,
        "kind": message.kind,
        "by": message.by.to_dict() if message.by else None,
    }


def message_id_marker(message: Message) -> dict[str, Any]:
    """Claims a message id on its request. Its sort key sorts before `B`, so a thread
    read (from `B`) skips it, as it skips the audit trail."""
    return message_id_key(message.ticket_id, message.id)


def message_from_item(item: Mapping[str, Any]) -> Message:
    return Message(
        id=item["id"],
        ticket_id=item["ticket_id"],
        author=item["author"],
        author_id=item["author_id"],
        text=item["text"],
        at=item["at"],
        delivery=Delivery.from_dict(item.get("delivery")),
        kind=item.get("kind") or "message",
        by=StaffRef.from_dict(item.get("by")),
    )


def delay_to_item(notice: DelayNotice) -> dict[str, Any]:
    return {
        **delay_notice_key(notice.ticket_id, notice.posted_at, notice.id),
        "entity": "delay_notice",
        "id": notice.id,
        "ticket_id": notice.ticket_id,
        "reason": notice.reason,
        "eta": notice.eta,
        "posted_at": notice.posted_at,
        "posted_by": notice.posted_by,
        "delivery": notice.delivery.to_dict() if notice.delivery else None,
        "by": notice.by.to_dict() if notice.by else None,
    }


def delay_from_item(item: Mapping[str, Any]) -> DelayNotice:
    return DelayNotice(
        id=item["id"],
        ticket_id=item["ticket_id"],
        reason=item["reason"],
        eta=item["eta"],
        posted_at=item["posted_at"],
        posted_by=item["posted_by"],
        delivery=Delivery.from_dict(item.get("delivery")),
        by=StaffRef.from_dict(item.get("by")),
    )


def audit_to_item(event: AuditEvent, partition: str | None = None) -> dict[str, Any]:
    """An audit event in its subject's partition (a request's, unless given)."""
    return {
        **audit_key(partition or request_pk(event.ticket_id), event.at, event.id),
        "entity": "audit",
        "id": event.id,
        "ticket_id": event.ticket_id,
        "action": event.action,
        "actor": event.actor,
        "at": event.at,
        "detail": event.detail,
        "by": event.by.to_dict() if event.by else None,
    }


def audit_from_item(item: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        id=item["id"],
        ticket_id=item["ticket_id"],
        action=item["action"],
        actor=item["actor"],
        at=item["at"],
        detail=dict(item.get("detail") or {}),
        by=StaffRef.from_dict(item.get("by")),
    )
