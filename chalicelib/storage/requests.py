"""Requests, their conversations and audit trails, in the one table (see `keys`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.models import (
    AckState,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    OutboxEntry,
    Page,
    Ticket,
    TicketThread,
)
from chalicelib.storage import (
    AddDelayNotice,
    AlreadyRecorded,
    AppendMessage,
    Change,
    CorrectScope,
    DuplicateMail,
    Enqueue,
    MoveClock,
    RecordReply,
    SetStatus,
    StaleState,
)
from chalicelib.storage.codec import (
    audit_from_item,
    audit_to_item,
    correction_item,
    delay_from_item,
    delay_to_item,
    dump,
    load,
    mail_identity_item,
    message_from_item,
    message_id_marker,
    message_to_item,
    outbox_to_item,
    sla_attributes,
    ticket_from_item,
    ticket_to_item,
)
from chalicelib.storage.keys import (
    BY_CUSTOMER_INDEX,
    CORRECTIONS_PK,
    META,
    STATS_KEY,
    customer_pk,
    deadline_part,
    deadline_shard,
    decode_audit_token,
    decode_page_token,
    encode_audit_token,
    encode_page_token,
    mail_identity_key,
    partition,
    request_key,
    request_pk,
)
from chalicelib.storage.table import Table

TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems


def open_counter(table: Table, delta: int) -> list[dict[str, Any]]:
    """The gauge of official requests waiting for staff, kept in the same transaction."""
    if delta == 0:
        return []
    return [
        {
            "Update": {
                "TableName": table.name,
                "Key": dump(STATS_KEY),
                "UpdateExpression": "ADD open_official :d",
                "ExpressionAttributeValues": dump({":d": delta}),
            }
        }
    ]


class _Update:
    """One request's UpdateItem and the items written beside it, built from changes."""

    def __init__(self, table: Table, request_id: str, at: str) -> None:
        self.table = table
        self.request_id = request_id
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {":now": at}
        self.sets = ["updated_at = :now"]
        self.removes: list[str] = []
        self.conditions = ["attribute_exists(PK)"]
        self.entries: list[dict[str, Any]] = []  # after the update, in order
        self.identities: set[int] = set()  # transaction positions of mail identity claims
        self.open_delta = 0

    def set(self, name: str, value: Any) -> None:
        self.names[f"#{name}"] = name
        if value is None:
            self.removes.append(f"#{name}")
            return
        self.values[f":{name}"] = value
        self.sets.append(f"#{name} = :{name}")

    def add(self, change: Change) -> None:
        if isinstance(change, AppendMessage):
            if change.owner is not None:
                self.conditions.append("customer = :owner")
                self.values[":owner"] = change.owner
            self.values[":one"], self.values[":zero"] = 1, 0
            self.sets.append("message_count = if_not_exists(message_count, :zero) + :one")
            self.entries.append(self.table.put_new(message_to_item(change.message)))
            # A message id is used once per request, whatever its time: a retried answer
            # (the same Idempotency-Key, so the same id) finds it taken.
            self.entries.append(self.table.put_new(message_id_marker(change.message)))
        elif isinstance(change, AddDelayNotice):
            self.entries.append(self.table.put_new(delay_to_item(change.notice)))
        elif isinstance(change, MoveClock):
            self._expect(change)
            for name, value in sla_attributes(self.request_id, change.after).items():
                self.set(name, value)
            was, now = deadline_part(change.before), deadline_part(change.after)
            self.open_delta += int(now is not None) - int(was is not None)
        elif isinstance(change, SetStatus):
            self.set("status", change.status)
        elif isinstance(change, CorrectScope):
            self.set("scope_correction", change.correction)
            self.entries.append(
                self.table.put_new(correction_item(change.request, change.correction))
            )
        elif isinstance(change, Enqueue):
            self.entries.append(self.table.put_new(outbox_to_item(change.entry)))
        elif isinstance(change, RecordReply):
            self.entries.append(self.table.put_new(ticket_to_item(change.record)))
            if change.identity:
                self.identities.add(len(self.entries) + 1)  # the update is position 0
                self.entries.append(
                    self.table.put_new(mail_identity_item(change.identity, change.record.id))
                )

    def _expect(self, change: MoveClock) -> None:
        """Only if the clock is as it was read: state, due time and index part."""
        before = change.before
        self.conditions.append("sla_state = :was_state AND due_at = :was_due")
        self.values[":was_state"], self.values[":was_due"] = before.state, before.due_at
        part = deadline_part(before)
        if part is None:
            self.conditions.append("attribute_not_exists(GSI2PK)")
        else:
            self.conditions.append("GSI2PK = :was_part")
            self.values[":was_part"] = partition(part, deadline_shard(self.request_id))

    def transaction(self, audit: AuditEvent) -> list[dict[str, Any]]:
        expression = "SET " + ", ".join(self.sets)
        if self.removes:
            expression += " REMOVE " + ", ".join(self.removes)
        update: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": dump(request_key(self.request_id)),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(self.conditions),
            "ExpressionAttributeValues": dump(self.values),
        }
        if self.names:
            update["ExpressionAttributeNames"] = self.names
        return [
            {"Update": update},
            *self.entries,
            self.table.put(audit_to_item(audit)),
            *open_counter(self.table, self.open_delta),
        ]


class DynamoRequests:
    """The `Requests` repository on DynamoDB."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(
        self,
        request: Ticket,
        audit: AuditEvent,
        *,
        conversation: Sequence[Message] = (),
        identity: str | None = None,
        outbox: Sequence[OutboxEntry] = (),
    ) -> None:
        # The request item is the conditional commit point, and the conversation goes in
        # the same transaction as far as its 100 items allow: a loser of a race for the
        # same id writes nothing at all. A longer conversation's tail follows the commit
        # (deterministic keys), and a redelivery completes it (`complete_conversation`).
        claims = [self._table.put_new(mail_identity_item(identity, request.id))] if identity else []
        item = ticket_to_item(request)
        room = TRANSACTION_ITEMS - 3 - len(claims) - len(outbox)
        if len(conversation) > room:
            item["conversation_pending"] = True
        head = [
            self._table.put_new(item),
            self._table.put(audit_to_item(audit)),
            *claims,
            *(self._table.put_new(outbox_to_item(entry)) for entry in outbox),
            *open_counter(self._table, 1 if deadline_part(request.sla) else 0),
        ]
        failed = self._table.transact(
            [*head, *(self._table.put(message_to_item(m)) for m in conversation[:room])]
        )
        if failed == 0:
            raise AlreadyRecorded(request.id)
        if failed is not None and identity and failed == 2:
            raise DuplicateMail(self.record_for_mail(identity) or "")
        if failed is not None:
            raise AlreadyRecorded(request.id)  # an outbox entry of this request exists
        if len(conversation) > room:
            self._finish(request.id, conversation[room:])

    def complete_conversation(self, request_id: str, conversation: Sequence[Message]) -> None:
        """Write what a crash after the commit left out of a long conversation."""
        item = self._table.get(request_key(request_id))
        if item and item.get("conversation_pending"):
            # Rewriting a message under its deterministic key with the same content is
            # harmless, so all of it is written again rather than read first.
            self._finish(request_id, conversation)

    def _finish(self, request_id: str, messages: Sequence[Message]) -> None:
        self._table.batch_put([message_to_item(m) for m in messages])
        self._table.update(
            request_key(request_id),
            "REMOVE conversation_pending",
            "attribute_exists(PK)",
            {},
        )

    def get(self, request_id: str) -> Ticket | None:
        item = self._table.get(request_key(request_id))
        return ticket_from_item(item) if item else None

    def thread(self, request_id: str) -> TicketThread | None:
        """One partition read. Sort keys order as AUDIT# < DELAY# < META < MSG#, so
        starting at "B" skips the audit trail, which customers do not see."""
        ticket: Ticket | None = None
        messages: list[Message] = []
        delays = []
        for item in self._table.query_all(
            KeyConditionExpression="PK = :pk AND SK >= :from",
            ExpressionAttributeValues=dump({":pk": request_pk(request_id), ":from": "B"}),
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

    def for_customer(self, sub: str, limit: int, next_token: str | None) -> Page:
        params: dict[str, Any] = {
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": dump({":pk": customer_pk(sub)}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            position = decode_page_token(next_token)
            request_id = position.rsplit("#", 1)[1]
            params["ExclusiveStartKey"] = dump(
                {
                    "PK": request_pk(request_id),
                    "SK": META,
                    "GSI1PK": customer_pk(sub),
                    "GSI1SK": position,
                }
            )
        response = self._table.query(**params)
        items = [load(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_page_token(load(last)) if last and items else None
        return Page(items=tuple(ticket_from_item(i) for i in items), next=token)

    def change(self, request_id: str, audit: AuditEvent, *changes: Change) -> None:
        update = _Update(self._table, request_id, audit.at)
        for change in changes:
            update.add(change)
        failed = self._table.transact(update.transaction(audit))
        if failed is None:
            return
        if failed == 0:
            raise StaleState(request_id)
        if failed in update.identities:
            reply = next(c for c in changes if isinstance(c, RecordReply))
            original = self.record_for_mail(reply.identity or "")
            if original and original != reply.record.id:
                raise DuplicateMail(original)
        raise AlreadyRecorded(request_id)

    def set_delivery(
        self, request_id: str, item: Message | DelayNotice, delivery: Delivery
    ) -> None:
        if isinstance(item, Message):
            key = {"PK": request_pk(request_id), "SK": f"MSG#{item.at}#{item.id}"}
        else:
            key = {"PK": request_pk(request_id), "SK": f"DELAY#{item.posted_at}#{item.id}"}
        self._table.update(
            key, "SET delivery = :d", "attribute_exists(PK)", {":d": delivery.to_dict()}
        )

    def mark_attention(self, request_id: str, reason: str) -> None:
        self._table.update(
            request_key(request_id),
            "SET attention = list_append(if_not_exists(attention, :none), :reason)",
            "attribute_exists(PK) AND NOT contains(attention, :flag)",
            {":none": [], ":reason": [reason], ":flag": reason},
        )

    def settle_ack(self, record_id: str, state: AckState) -> None:
        self._table.update(
            request_key(record_id),
            "SET ack = :state",
            "ack = :owed",
            {":state": state, ":owed": "owed"},
        )

    def record_for_mail(self, identity: str) -> str | None:
        item = self._table.get(mail_identity_key(identity))
        return str(item["record"]) if item and "record" in item else None

    def events(
        self, request_id: str, limit: int, next_token: str | None
    ) -> tuple[list[AuditEvent], str | None]:
        params: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :audit)",
            "ExpressionAttributeValues": dump({":pk": request_pk(request_id), ":audit": "AUDIT#"}),
            "Limit": limit,
        }
        if next_token:
            position = decode_audit_token(next_token)
            params["ExclusiveStartKey"] = dump({"PK": request_pk(request_id), "SK": position})
        response = self._table.query(**params)
        items = [load(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_audit_token(load(last)["SK"]) if last and items else None
        return [audit_from_item(i) for i in items], token

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        return [
            audit_from_item(item)
            for item in self._table.query_all(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :audit)",
                ExpressionAttributeValues=dump({":pk": request_pk(request_id), ":audit": "AUDIT#"}),
            )
        ]

    def corrections(self) -> Iterator[dict[str, Any]]:
        yield from self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=dump({":pk": CORRECTIONS_PK}),
        )
