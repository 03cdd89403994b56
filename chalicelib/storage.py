"""DynamoDB access. This module alone owns key formats and DynamoDB expressions.

One table (infrastructure/resources.json, `SupportTable`) holds every kind of item:

| item           | PK             | SK                        | indexes                         |
|----------------|----------------|---------------------------|---------------------------------|
| request        | REQ#<id>       | META                      | ByCustomer; DueDeadlines if due |
| message        | REQ#<id>       | MSG#<at>#<message id>     |                                 |
| delay notice   | REQ#<id>       | DELAY#<at>#<notice id>    |                                 |
| audit event    | REQ#<id>       | AUDIT#<at>#<event id>     |                                 |
| mail identity  | MAILID#<hash>  | MAIL                      |                                 |
| ack allowance  | ACK#<address>  | RATE                      |                                 |

`ByCustomer` (GSI1PK = CUST#<sub>, GSI1SK = <created_at>#<id>) lists a customer's own
requests by time. `DueDeadlines` (GSI2PK = <part>#<shard>, GSI2SK = <due_at>#<id>) is
sparse: only official requests still waiting for a staff answer carry its attributes.
The partition of `DueDeadlines` says what the sweep owes the deadline next, so that one
sweep reads an item only when an action on it is due:

| part | requests                                   | the sweep reads          |
|------|--------------------------------------------|--------------------------|
| P    | pending, or delayed and not yet warned     | due_at <= now + warning  |
| W    | warned (pending or delayed)                | due_at <= now            |
| L    | breached and still unanswered              | never (staff queue only) |
| X    | breached, escalation not yet handed to SNS | all (retry)              |

Shards (`DEADLINE_SHARDS`) spread the write load; the sweep does one Query per shard
and part, and the cost follows the due deadlines, not the table.

A mail identity (hash of Message-ID and sender) is written in the same transaction as
the record it made, so the same message stored twice by SES (a sender retrying after a
timeout) makes one record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
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
from chalicelib.timeutil import parse_iso, to_iso

DEADLINE_SHARDS = 8
BY_CUSTOMER_INDEX = "ByCustomer"
DUE_DEADLINES_INDEX = "DueDeadlines"
META = "META"
STATS_KEY = {"PK": "STATS", "SK": "OPEN_OFFICIAL"}
CORRECTIONS_PK = "CORRECTIONS"


def correction_item(ticket: Ticket, correction: Mapping[str, Any]) -> dict[str, Any]:
    """A staff correction with the request's words: an evaluation case for the classifier.

    Corrections are rare, so one partition holds them all, in the order they were made.
    """
    return {
        "PK": CORRECTIONS_PK,
        "SK": f"{correction['at']}#{ticket.id}",
        "entity": "correction",
        "id": ticket.id,
        "channel": ticket.channel,
        "subject": ticket.subject,
        "text": ticket.text,
        "label": correction["label"],
        "sub": correction.get("sub"),
        "abusive": "abusive" in ticket.scope.flags,
        "classifier": correction["classifier"],
        "by": correction["by"],
        "at": correction["at"],
    }


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


PENDING, WARNED, LATE, ESCALATION_OWED = "P", "W", "L", "X"
ALL_PARTS = (PENDING, WARNED, LATE, ESCALATION_OWED)


def deadline_part(sla: Sla | None) -> str | None:
    """Which part of the deadline index a request belongs in, if any (see module doc)."""
    if sla is None or sla.due_at is None:
        return None
    if sla.state in ("pending", "delayed"):
        return WARNED if sla.warned_at else PENDING
    if sla.state == "warned":
        return WARNED
    if sla.state == "breached" and sla.first_response_at is None:
        return LATE
    return None


def partition(part: str, shard: int) -> str:
    return f"{part}#{shard:02d}"


def deadline_keys(ticket_id: str, due_at: str, part: str = PENDING) -> dict[str, str]:
    return {
        "GSI2PK": partition(part, deadline_shard(ticket_id)),
        "GSI2SK": f"{due_at}#{ticket_id}",
    }


class AlreadyRecorded(Exception):
    """An advisory record with this deterministic id exists: a redelivery."""


class DuplicateMail(Exception):
    """Another record was made from the same message (same Message-ID and sender)."""

    def __init__(self, original: str) -> None:
        super().__init__(original)
        self.original = original


class StaleState(Exception):
    """The request changed since it was read; read it again and decide again."""


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
        part = deadline_part(sla)
        if part is not None and sla.due_at:
            item.update(deadline_keys(ticket.id, sla.due_at, part))
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


def delay_to_item(notice: DelayNotice) -> dict[str, Any]:
    return {
        "PK": request_pk(notice.ticket_id),
        "SK": f"DELAY#{notice.posted_at}#{notice.id}",
        "entity": "delay_notice",
        "id": notice.id,
        "ticket_id": notice.ticket_id,
        "reason": notice.reason,
        "eta": notice.eta,
        "posted_at": notice.posted_at,
        "posted_by": notice.posted_by,
    }


def delay_from_item(item: Mapping[str, Any]) -> DelayNotice:
    return DelayNotice(
        id=item["id"],
        ticket_id=item["ticket_id"],
        reason=item["reason"],
        eta=item["eta"],
        posted_at=item["posted_at"],
        posted_by=item["posted_by"],
    )


def mail_identity_item(identity: str, record_id: str) -> dict[str, Any]:
    return {"PK": f"MAILID#{identity}", "SK": "MAIL", "record": record_id}


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
        if not self._put_new_request(
            ticket_to_item(ticket),
            audit,
            self._open_counter(+1 if deadline_part(ticket.sla) else 0),
        ):
            raise IdCollision(ticket.id)

    def _put_new_request(
        self,
        item: Mapping[str, Any],
        audit: AuditEvent,
        more: Sequence[dict[str, Any]] = (),
        identity: str | None = None,
    ) -> bool:
        """The request item, only if its key is free, with its audit event; False if taken.

        With a mail `identity`, its marker is claimed in the same transaction; if another
        record holds it, DuplicateMail names that record.
        """
        claims = [self._identity_put(identity, str(item["id"]))] if identity else []
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump(item),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": _dump(audit_to_item(audit))}},
                    *claims,
                    *more,
                ]
            )
        except ClientError as err:
            if _cancelled_by_condition(err, position=0):
                return False
            if identity and _cancelled_by_condition(err, position=2):
                raise DuplicateMail(self.mail_identity(identity) or "") from err
            raise
        return True

    def _identity_put(self, identity: str, record_id: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": _dump(mail_identity_item(identity, record_id)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def mail_identity(self, identity: str) -> str | None:
        """The record made from the message with this identity, if any."""
        response = self._client.get_item(
            TableName=self._table,
            Key=_dump({"PK": f"MAILID#{identity}", "SK": "MAIL"}),
            ConsistentRead=True,
        )
        item = _load(response.get("Item") or {})
        return str(item["record"]) if "record" in item else None

    def _open_counter(self, delta: int) -> list[dict[str, Any]]:
        """The gauge of official requests waiting for staff, kept in the same transaction."""
        if delta == 0:
            return []
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _dump(STATS_KEY),
                    "UpdateExpression": "ADD open_official :d",
                    "ExpressionAttributeValues": _dump({":d": delta}),
                }
            }
        ]

    def open_official_count(self) -> int:
        response = self._client.get_item(TableName=self._table, Key=_dump(STATS_KEY))
        item = _load(response.get("Item") or {})
        return int(item.get("open_official", 0))

    def create_advisory(
        self,
        record: Ticket,
        messages: Sequence[Message],
        audit: AuditEvent,
        extra: Mapping[str, Any],
        identity: str | None = None,
    ) -> None:
        """An advisory record with its conversation; AlreadyRecorded on a redelivery,
        DuplicateMail when another record holds the mail `identity`.

        A conversation can exceed a transaction's 100 items, so the messages (with
        deterministic keys, so rewriting them is harmless) go first and the request
        item is the conditional commit point: until it exists, nothing is visible.
        """
        items = [_dump(message_to_item(m)) for m in messages]
        for start in range(0, len(items), 25):
            self._batch_put(items[start : start + 25])
        if not self._put_new_request({**ticket_to_item(record), **extra}, audit, identity=identity):
            raise AlreadyRecorded(record.id)

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        request = {self._table: [{"PutRequest": {"Item": item}} for item in items]}
        for _ in range(8):
            response = self._client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
        raise RuntimeError("DynamoDB kept items unprocessed; the caller retries")

    def take_ack_allowance(self, address: str, at: str, per_day: int, record_id: str) -> bool:
        """Spend one of a sender's acknowledgements for the last 24 h on `record_id`;
        False if none is left. Taking it again for the same record spends nothing.

        The sender's item keeps `<time> <record>` entries; the write is conditional on the
        list read, so two concurrent mails cannot both spend the last.
        """
        cutoff = to_iso(parse_iso(at) - timedelta(hours=24))

        def change(recent: list[str]) -> list[str] | None:
            if any(entry.endswith(f" {record_id}") for entry in recent):
                return recent
            if len(recent) >= per_day:
                return None
            return [*recent, f"{at} {record_id}"]

        return self._change_allowance(address, cutoff, change)

    def release_ack_allowance(self, address: str, at: str, record_id: str) -> None:
        """Give back what `record_id` took: its acknowledgement was not sent."""
        cutoff = to_iso(parse_iso(at) - timedelta(hours=24))
        self._change_allowance(
            address, cutoff, lambda recent: [e for e in recent if not e.endswith(f" {record_id}")]
        )

    def _change_allowance(
        self, address: str, cutoff: str, change: Callable[[list[str]], list[str] | None]
    ) -> bool:
        key = {"PK": f"ACK#{address.lower()}", "SK": "RATE"}
        for _ in range(5):
            item = _load(
                self._client.get_item(
                    TableName=self._table, Key=_dump(key), ConsistentRead=True
                ).get("Item")
                or {}
            )
            sent = [str(entry) for entry in item.get("sent") or []]
            changed = change([entry for entry in sent if entry > cutoff])
            if changed is None:
                return False
            if changed == sent:
                return True
            values: dict[str, Any] = {":new": changed}
            if "sent" in item:
                condition = "sent = :old"
                values[":old"] = sent
            else:
                condition = "attribute_not_exists(sent)"
            if self._conditional_update(key, "SET sent = :new", condition, values):
                return True
        return False

    def settle_ack(self, record_id: str, state: str) -> None:
        """Record what became of an owed acknowledgement (`sent`, `rate_limited`)."""
        self._conditional_update(
            {"PK": request_pk(record_id), "SK": META},
            "SET ack = :state",
            "ack = :owed",
            {":state": state, ":owed": "owed"},
        )

    def get_extra(self, ticket_id: str, names: Sequence[str]) -> dict[str, Any]:
        """Channel-specific attributes of a request item."""
        response = self._client.get_item(
            TableName=self._table,
            Key=_dump({"PK": request_pk(ticket_id), "SK": META}),
            ProjectionExpression=", ".join(f"#n{i}" for i in range(len(names))),
            ExpressionAttributeNames={f"#n{i}": name for i, name in enumerate(names)},
        )
        return _load(response.get("Item") or {})

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
        try:
            self.change_ticket(
                message.ticket_id,
                at=message.at,
                audit=audit,
                owner=owner,
                status=new_status,
                items=[message_to_item(message)],
                bump_messages=True,
            )
        except StaleState:
            raise NotFound("ticket_not_found", "no such ticket") from None

    def change_ticket(
        self,
        ticket_id: str,
        *,
        at: str,
        audit: AuditEvent,
        expect: Sla | None = None,
        sla: Sla | None = None,
        owner: str | None = None,
        status: str | None = None,
        items: Sequence[Mapping[str, Any]] = (),
        bump_messages: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """One conditional transaction: update the request, add items and an audit event.

        With `expect`, the update only applies if the deadline is still as it was read
        (state, due time and index part), so a sweep and a staff action, or two sweeps,
        cannot both apply a transition: the loser gets StaleState.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": at}
        sets = ["updated_at = :now"]
        removes: list[str] = []
        conditions = ["attribute_exists(PK)"]
        if owner is not None:
            conditions.append("customer = :owner")
            values[":owner"] = owner
        if status is not None:
            names["#status"] = "status"
            values[":status"] = status
            sets.append("#status = :status")
        if bump_messages:
            values[":one"], values[":zero"] = 1, 0
            sets.append("message_count = if_not_exists(message_count, :zero) + :one")
        for key, value in (extra or {}).items():
            names[f"#x_{key}"] = key
            values[f":x_{key}"] = value
            sets.append(f"#x_{key} = :x_{key}")
        if expect is not None:
            conditions.append("sla_state = :was_state AND due_at = :was_due")
            values[":was_state"], values[":was_due"] = expect.state, expect.due_at
            part = deadline_part(expect)
            shard = deadline_shard(ticket_id)
            if part is None:
                conditions.append("attribute_not_exists(GSI2PK)")
            elif part == LATE:
                # A breach whose escalation is parked for retry is still the same state.
                conditions.append("GSI2PK IN (:was_part, :was_parked)")
                values[":was_part"] = partition(LATE, shard)
                values[":was_parked"] = partition(ESCALATION_OWED, shard)
            else:
                conditions.append("GSI2PK = :was_part")
                values[":was_part"] = partition(part, shard)
        if sla is not None:
            fields = {
                "sla_state": sla.state,
                "due_at": sla.due_at,
                "first_response_at": sla.first_response_at,
                "breached_at": sla.breached_at,
                "warned_at": sla.warned_at,
            }
            part = deadline_part(sla)
            if part is not None and sla.due_at:
                fields.update(deadline_keys(ticket_id, sla.due_at, part))
            else:
                fields.update(GSI2PK=None, GSI2SK=None)
            for key, value in fields.items():
                if value is None:
                    removes.append(key)
                else:
                    values[f":s_{key}"] = value
                    sets.append(f"{key} = :s_{key}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _dump({"PK": request_pk(ticket_id), "SK": META}),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": _dump(values),
        }
        if names:
            update["ExpressionAttributeNames"] = names
        transaction: list[dict[str, Any]] = [{"Update": update}]
        for item in items:
            transaction.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _dump(item),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        transaction.append({"Put": {"TableName": self._table, "Item": _dump(audit_to_item(audit))}})
        if expect is not None and sla is not None:
            was_open, is_open = deadline_part(expect) is not None, deadline_part(sla) is not None
            transaction += self._open_counter(int(is_open) - int(was_open))
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as err:
            if _cancelled_by_condition(err, position=0):
                raise StaleState(ticket_id) from err
            if any(_cancelled_by_condition(err, position=i + 1) for i in range(len(items))):
                raise AlreadyRecorded(ticket_id) from err
            raise

    # -- the deadline index -----------------------------------------------------------

    def due_deadlines(self, part: str, shard: int, upto: str | None) -> Iterator[dict[str, Any]]:
        """Requests in one part and shard of the deadline index, due first, up to `upto`."""
        values: dict[str, Any] = {":pk": partition(part, shard)}
        condition = "GSI2PK = :pk"
        if upto is not None:
            condition += " AND GSI2SK <= :upto"
            values[":upto"] = f"{upto}#~"
        params: dict[str, Any] = {
            "IndexName": DUE_DEADLINES_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": _dump(values),
        }
        yield from self._query_all(**params)

    def move_deadline(self, ticket_id: str, due_at: str, from_part: str, to_part: str) -> None:
        """Move a request between parts of the deadline index; StaleState if it is not there."""
        shard = deadline_shard(ticket_id)
        moved = self._conditional_update(
            {"PK": request_pk(ticket_id), "SK": META},
            "SET GSI2PK = :to",
            "GSI2PK = :from AND due_at = :due",
            {
                ":to": partition(to_part, shard),
                ":from": partition(from_part, shard),
                ":due": due_at,
            },
        )
        if not moved:
            raise StaleState(ticket_id)

    def open_queue(self, limit: int, next_token: str | None) -> Page:
        """Official requests waiting for staff, most urgent (earliest due) first.

        A k-way merge over every part and shard of the deadline index: breached
        requests are due in the past, so they lead.
        """
        cursors = decode_queue_token(next_token) if next_token else {}
        streams: list[tuple[str, list[dict[str, Any]], bool]] = []
        for part in (LATE, ESCALATION_OWED, WARNED, PENDING):
            for shard in range(DEADLINE_SHARDS):
                name = partition(part, shard)
                cursor = cursors.get(name, "")
                if cursor is None:
                    continue
                values: dict[str, Any] = {":pk": name}
                condition = "GSI2PK = :pk"
                if cursor:
                    condition += " AND GSI2SK > :after"
                    values[":after"] = cursor
                response = self._client.query(
                    TableName=self._table,
                    IndexName=DUE_DEADLINES_INDEX,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=_dump(values),
                    Limit=limit,
                )
                items = [_load(i) for i in response.get("Items", [])]
                streams.append((name, items, "LastEvaluatedKey" not in response))
        merged = sorted(
            ((item["GSI2SK"], name, item) for name, items, _ in streams for item in items),
            key=lambda entry: (entry[0], entry[1]),
        )
        page = merged[:limit]
        new_cursors: dict[str, str | None] = dict(cursors)
        for sort_key, name, _ in page:
            new_cursors[name] = sort_key
        more = False
        for name, items, finished in streams:
            cursor = new_cursors.get(name)
            consumed = [i for i in items if cursor and i["GSI2SK"] <= cursor]
            if finished and len(consumed) == len(items):
                new_cursors[name] = None
            else:
                more = True
        token = encode_queue_token(new_cursors) if more else None
        return Page(items=tuple(ticket_from_item(item) for _, _, item in page), next=token)

    # -- notices ----------------------------------------------------------------------

    def claim_notice(self, ticket_id: str, notice: str, at: str) -> bool:
        """Mark a notice as being sent; False if it was already (exactly once)."""
        return self._conditional_update(
            {"PK": request_pk(ticket_id), "SK": META},
            "SET #n = :at",
            "attribute_exists(PK) AND attribute_not_exists(#n)",
            {":at": at},
            {"#n": f"notice_{notice}"},
        )

    def release_notice(self, ticket_id: str, notice: str, at: str) -> None:
        """Undo a claim whose notice could not be handed over, so it can be sent later."""
        self._conditional_update(
            {"PK": request_pk(ticket_id), "SK": META},
            "REMOVE #n",
            "#n = :at",
            {":at": at},
            {"#n": f"notice_{notice}"},
        )

    def _conditional_update(
        self,
        key: Mapping[str, Any],
        expression: str,
        condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """One conditional UpdateItem; False when the condition did not hold."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": _dump(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": _dump(values),
        }
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        try:
            self._client.update_item(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def corrections(self) -> Iterator[dict[str, Any]]:
        """Every staff scope correction, oldest first, with the request it corrects."""
        yield from self._query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=_dump({":pk": CORRECTIONS_PK}),
        )

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


def encode_queue_token(cursors: Mapping[str, str | None]) -> str:
    raw = json.dumps(cursors, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_queue_token(token: str) -> dict[str, str | None]:
    known = {partition(p, s) for p in ALL_PARTS for s in range(DEADLINE_SHARDS)}
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        data = None
    if not isinstance(data, dict) or not all(
        k in known and (v is None or isinstance(v, str)) for k, v in data.items()
    ):
        raise InvalidInput("invalid_next", "the `next` token is not one this API issued")
    return data


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
