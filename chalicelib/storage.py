"""DynamoDB access. This module alone owns key formats and DynamoDB expressions.

One table (infrastructure/resources.json, `SupportTable`) holds every kind of item:

| item           | PK             | SK                        | indexes                         |
|----------------|----------------|---------------------------|---------------------------------|
| request        | REQ#<id>       | META                      | ByCustomer; DueDeadlines if due |
| message        | REQ#<id>       | MSG#<at>#<message id>     |                                 |
| delay notice   | REQ#<id>       | DELAY#<at>#<notice id>    |                                 |
| audit event    | REQ#<id>       | AUDIT#<at>#<event id>     |                                 |

`ByCustomer` (GSI1PK = CUST#<sub>, GSI1SK = <created_at>#<id>) lists a customer's own
requests by time. `DueDeadlines` (GSI2PK = DUE#<shard>, GSI2SK = <due_at>#<id>) is
sparse: only requests with a pending deadline carry its attributes, so the SLA sweep
reads due items with one Query per shard and its cost follows the due deadlines, not
the table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.errors import InvalidInput, NotFound
from chalicelib.models import (
    AuditEvent,
    DelayNotice,
    KbArticle,
    Message,
    Page,
    Scope,
    Sla,
    Ticket,
    TicketThread,
)

DEADLINE_SHARDS = 8
BY_CUSTOMER_INDEX = "ByCustomer"
DUE_DEADLINES_INDEX = "DueDeadlines"
META = "META"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class IdCollision(Exception):
    """A freshly drawn id is already taken; draw again."""


def request_pk(ticket_id: str) -> str:
    return f"REQ#{ticket_id}"


def customer_pk(sub: str) -> str:
    return f"CUST#{sub}"


def deadline_shard(ticket_id: str) -> int:
    """Stable shard of a request in the deadline index, so no partition is hot."""
    digest = hashlib.sha256(ticket_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % DEADLINE_SHARDS


def deadline_keys(ticket_id: str, due_at: str) -> dict[str, str]:
    return {"GSI2PK": f"DUE#{deadline_shard(ticket_id):02d}", "GSI2SK": f"{due_at}#{ticket_id}"}


def _dump(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _load(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the domain uses int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def ticket_to_item(ticket: Ticket) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": request_pk(ticket.id),
        "SK": META,
        "entity": "request",
        "GSI1PK": customer_pk(ticket.customer),
        "GSI1SK": f"{ticket.created_at}#{ticket.id}",
        "id": ticket.id,
        "channel": ticket.channel,
        "official": ticket.official,
        "status": ticket.status,
        "subject": ticket.subject,
        "text": ticket.text,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "customer": ticket.customer,
        "customer_email": ticket.customer_email,
        "service": ticket.service,
        "domain": ticket.domain,
        "scope": ticket.scope.to_dict(),
        "kb": [a.to_dict() for a in ticket.kb],
        "message_count": ticket.message_count,
        "scope_correction": ticket.scope_correction,
    }
    sla = ticket.sla
    if sla is not None:
        item.update(
            sla_state=sla.state,
            due_at=sla.due_at,
            first_response_at=sla.first_response_at,
            breached_at=sla.breached_at,
            warned_at=sla.warned_at,
        )
        if sla.state in ("pending", "warned", "delayed") and sla.due_at:
            item.update(deadline_keys(ticket.id, sla.due_at))
    return item


def ticket_from_item(item: Mapping[str, Any]) -> Ticket:
    sla = None
    if item.get("sla_state"):
        sla = Sla(
            state=item["sla_state"],
            due_at=item.get("due_at"),
            first_response_at=item.get("first_response_at"),
            breached_at=item.get("breached_at"),
            warned_at=item.get("warned_at"),
        )
    return Ticket(
        id=item["id"],
        channel=item["channel"],
        official=bool(item["official"]),
        status=item["status"],
        subject=item["subject"],
        text=item["text"],
        created_at=item["created_at"],
        updated_at=item.get("updated_at", item["created_at"]),
        customer=item["customer"],
        customer_email=item.get("customer_email"),
        scope=Scope.from_dict(item["scope"]),
        kb=tuple(KbArticle(title=a["title"], url=a["url"]) for a in item.get("kb") or ()),
        sla=sla,
        service=item.get("service"),
        domain=item.get("domain"),
        message_count=int(item.get("message_count") or 0),
        scope_correction=item.get("scope_correction"),
    )


def message_to_item(message: Message) -> dict[str, Any]:
    return {
        "PK": request_pk(message.ticket_id),
        "SK": f"MSG#{message.at}#{message.id}",
        "entity": "message",
        "id": message.id,
        "ticket_id": message.ticket_id,
        "author": message.author,
        "author_id": message.author_id,
        "text": message.text,
        "at": message.at,
    }


def message_from_item(item: Mapping[str, Any]) -> Message:
    return Message(
        id=item["id"],
        ticket_id=item["ticket_id"],
        author=item["author"],
        author_id=item["author_id"],
        text=item["text"],
        at=item["at"],
    )


def delay_from_item(item: Mapping[str, Any]) -> DelayNotice:
    return DelayNotice(
        id=item["id"],
        ticket_id=item["ticket_id"],
        reason=item["reason"],
        eta=item["eta"],
        posted_at=item["posted_at"],
        posted_by=item["posted_by"],
    )


def audit_to_item(event: AuditEvent) -> dict[str, Any]:
    return {
        "PK": request_pk(event.ticket_id),
        "SK": f"AUDIT#{event.at}#{event.id}",
        "entity": "audit",
        "id": event.id,
        "ticket_id": event.ticket_id,
        "action": event.action,
        "actor": event.actor,
        "at": event.at,
        "detail": event.detail,
    }


def encode_page_token(item: Mapping[str, Any]) -> str:
    """Only the position goes in the token; the partition is rebuilt from the caller."""
    raw = json.dumps({"k": item["GSI1SK"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position = data["k"]
        created_at, ticket_id = position.rsplit("#", 1)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeError):
        raise InvalidInput("invalid_next", "the `next` token is not one this API issued") from None
    if not created_at or not ticket_id:
        raise InvalidInput("invalid_next", "the `next` token is not one this API issued")
    return str(position)


class SupportStore:
    """The DynamoDB implementation of the intake's storage."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- requests -----------------------------------------------------------------

    def create_ticket(self, ticket: Ticket, audit: AuditEvent) -> None:
        """Write a new request and its audit event at once; IdCollision if the id is taken."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump(ticket_to_item(ticket)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": _dump(audit_to_item(audit))}},
                ]
            )
        except ClientError as err:
            if _cancelled_by_condition(err, position=0):
                raise IdCollision(ticket.id) from err
            raise

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_dump({"PK": request_pk(ticket_id), "SK": META}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ticket_from_item(_load(item)) if item else None

    def get_thread(self, ticket_id: str) -> TicketThread | None:
        """The request with its delay notices and messages in one partition read.

        Sort keys order as AUDIT# < DELAY# < META < MSG#, so starting at "B" skips the
        audit trail, which customers do not see.
        """
        ticket: Ticket | None = None
        messages: list[Message] = []
        delays: list[DelayNotice] = []
        for item in self._query_all(
            KeyConditionExpression="PK = :pk AND SK >= :from",
            ExpressionAttributeValues=_dump({":pk": request_pk(ticket_id), ":from": "B"}),
            ConsistentRead=True,
        ):
            kind = item.get("entity")
            if kind == "request":
                ticket = ticket_from_item(item)
            elif kind == "message":
                messages.append(message_from_item(item))
            elif kind == "delay_notice":
                delays.append(delay_from_item(item))
        if ticket is None:
            return None
        return TicketThread(ticket=ticket, messages=tuple(messages), delay_notices=tuple(delays))

    def list_customer_tickets(self, sub: str, limit: int, next_token: str | None) -> Page:
        """A customer's own requests, newest first."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": _dump({":pk": customer_pk(sub)}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            position = decode_page_token(next_token)
            ticket_id = position.rsplit("#", 1)[1]
            params["ExclusiveStartKey"] = _dump(
                {
                    "PK": request_pk(ticket_id),
                    "SK": META,
                    "GSI1PK": customer_pk(sub),
                    "GSI1SK": position,
                }
            )
        response = self._client.query(**params)
        items = [_load(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_page_token(_load(last)) if last and items else None
        return Page(items=tuple(ticket_from_item(i) for i in items), next=token)

    # -- conversation ---------------------------------------------------------------

    def add_message(
        self,
        message: Message,
        audit: AuditEvent,
        *,
        owner: str | None,
        new_status: str,
    ) -> None:
        """Append a message and bump the request, atomically.

        With `owner`, the write only happens if the request belongs to that customer,
        so a check-then-write race cannot let anyone else append (NotFound otherwise).
        """
        condition = "attribute_exists(PK)"
        values: dict[str, Any] = {
            ":one": 1,
            ":zero": 0,
            ":now": message.at,
            ":status": new_status,
        }
        if owner is not None:
            condition += " AND customer = :owner"
            values[":owner"] = owner
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _dump({"PK": request_pk(message.ticket_id), "SK": META}),
                            "UpdateExpression": (
                                "SET message_count = if_not_exists(message_count, :zero) + :one,"
                                " updated_at = :now, #status = :status"
                            ),
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _dump(values),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump(message_to_item(message)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": _dump(audit_to_item(audit))}},
                ]
            )
        except ClientError as err:
            if _cancelled_by_condition(err, position=0):
                raise NotFound("ticket_not_found", "no such ticket") from err
            raise

    def audit_trail(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every recorded state change of a request, oldest first."""
        return list(
            self._query_all(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :audit)",
                ExpressionAttributeValues=_dump({":pk": request_pk(ticket_id), ":audit": "AUDIT#"}),
            )
        )

    def _query_all(self, **params: Any) -> Iterator[dict[str, Any]]:
        params["TableName"] = self._table
        while True:
            response = self._client.query(**params)
            for item in response.get("Items", []):
                yield _load(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last


def _cancelled_by_condition(err: ClientError, *, position: int) -> bool:
    """True when a transaction was cancelled because item `position` failed its condition."""
    error = err.response.get("Error", {})
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = err.response.get("CancellationReasons")
    if reasons and len(reasons) > position:
        return bool(reasons[position].get("Code") == "ConditionalCheckFailed")
    # Some SDK paths only carry the reasons in the message text.
    message = str(error.get("Message", ""))
    listed = message.partition("[")[2].rstrip("]").split(",")
    return len(listed) > position and listed[position].strip() == "ConditionalCheckFailed"
