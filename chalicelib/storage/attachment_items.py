"""Attachment items of a request (see `keys`: `FILE#<id>` in the request's partition)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.tickets import Attachment
from chalicelib.storage.keys import attachment_key


def attachment_to_item(attachment: Attachment) -> dict[str, Any]:
    return {
        **attachment_key(attachment.ticket_id, attachment.id),
        "entity": "attachment",
        "id": attachment.id,
        "ticket_id": attachment.ticket_id,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "state": attachment.state,
        "s3_key": attachment.s3_key,
        "created_at": attachment.created_at,
        "expires_at": attachment.expires_at,
        "by": attachment.by,
        "reason": attachment.reason,
        "checked_at": attachment.checked_at,
    }


def attachment_from_item(item: Mapping[str, Any]) -> Attachment:
    return Attachment(
        id=item["id"],
        ticket_id=item["ticket_id"],
        name=item["name"],
        content_type=item["content_type"],
        size=int(item["size"]),
        state=item["state"],
        s3_key=item["s3_key"],
        created_at=item["created_at"],
        expires_at=item["expires_at"],
        by=item["by"],
        reason=item.get("reason"),
        checked_at=item.get("checked_at"),
    )
