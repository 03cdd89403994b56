"""Requests, their conversations and audit trails, in the one table (see `keys`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chalicelib.domain.tallies import Tally
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    AuditEvent,
    DelayNotice,
    Delivery,
    Message,
    OutboxEntry,
    Page,
    Ticket,
    TicketThread,
)
from chalicelib.errors import InvalidInput
from chalicelib.storage import (
    AlreadyRecorded,
    Change,
    DuplicateMail,
    RecordReply,
    SendGuard,
    SendRefused,
    StaleState,
)
from chalicelib.storage.attachment_items import attachment_from_item
from chalicelib.storage.changes import Update, guard_item, link_count, open_counter
from chalicelib.storage.codec import (
    dump,
    index_items,
    mail_identity_item,
    outbox_to_item,
    receipt_item,
    ticket_from_item,
    ticket_to_item,
)
from chalicelib.storage.conversation_items import (
    audit_from_item,
    audit_to_item,
    delay_from_item,
    message_from_item,
    message_to_item,
)
from chalicelib.storage.counters import tally_updates
from chalicelib.storage.indexes import reindex_requests, resolve
from chalicelib.storage.keys import (
    AUDIT_POSITION,
    AUDIT_PREFIX,
    BY_CUSTOMER_INDEX,
    CONTACT_INDEX,
    CONTACT_POSITION,
    CORRECTIONS_PK,
    CUSTOMER_POSITION,
    META,
    address_partition,
    attachment_key,
    customer_pk,
    deadline_part,
    delay_notice_key,
    domain_partition,
    mail_identity_key,
    message_key,
    receipt_key,
    request_key,
    request_pk,
)
from chalicelib.storage.search_query import search_page
from chalicelib.storage.table import Pager, Table

TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems


class DynamoTickets:
    """The `Tickets` repository on DynamoDB."""

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
        tally: Tally | None = None,
        guards: Sequence[SendGuard] = (),
        receipt: str | None = None,
    ) -> None:
        # The request item is the conditional commit point, and the conversation goes in
        # the same transaction as far as its 100 items allow: a loser of a race for the
        # same id writes nothing at all. A longer conversation's tail follows the commit
        # (deterministic keys), and a redelivery completes it (`complete_conversation`).
        claims = [self._table.put_new(mail_identity_item(identity, request.id))] if identity else []
        item = ticket_to_item(request)
        # The terms the request item keeps are its search index's too: made once.
        indexes = [self._table.put(i) for i in index_items(request, item.get("terms"))]
        counters = tally_updates(self._table, tally) if tally else []
        checks = [guard_item(self._table, guard) for guard in guards]
        kept = [self._table.put_new(receipt_item(request, receipt))] if receipt else []
        written = len(claims) + len(checks) + len(outbox) + len(indexes) + len(counters)
        written += len(kept)
        room = TRANSACTION_ITEMS - 4 - written
        room = max(room, 0)
        if len(conversation) > room:
            item["conversation_pending"] = True
        head = [
            self._table.put_new(item),
            self._table.put(audit_to_item(audit)),
            *claims,
            *checks,
            *(self._table.put_new(outbox_to_item(entry)) for entry in outbox),
            *open_counter(self._table, request.id, 1 if deadline_part(request.sla) else 0),
            *indexes,
            *([link_count(self._table, request.incident, 1)] if request.incident else []),
            *counters,
            *kept,
        ]
        failed = self._table.transact(
            [*head, *(self._table.put(message_to_item(m)) for m in conversation[:room])]
        )
        if failed == 0:
            raise AlreadyRecorded(request.id)
        if failed is not None and identity and failed == 2:
            raise DuplicateMail(self.ticket_for_mail(identity) or "")
        if failed is not None and 2 + len(claims) <= failed < 2 + len(claims) + len(checks):
            raise SendRefused(request.id)
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

    def receipt(self, request_id: str) -> tuple[str, Ticket] | None:
        item = self._table.get(receipt_key(request_id))
        return (str(item["digest"]), ticket_from_item(item["ticket"])) if item else None

    def thread(self, request_id: str) -> TicketThread | None:
        """One partition read. Sort keys order as AUDIT# < DELAY# < META < MSG#, so
        starting at "B" skips the audit trail, which customers do not see."""
        ticket: Ticket | None = None
        messages: list[Message] = []
        delays = []
        files: list[Attachment] = []
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
            elif kind == "attachment":
                files.append(attachment_from_item(item))
        if ticket is None:
            return None
        files.sort(key=lambda a: (a.created_at, a.id))
        return TicketThread(ticket, tuple(messages), tuple(delays), tuple(files))

    def attachment(self, request_id: str, attachment_id: str) -> Attachment | None:
        item = self._table.get(attachment_key(request_id, attachment_id))
        return attachment_from_item(item) if item else None

    def settle_attachment(self, settled: Attachment, audit: AuditEvent) -> bool:
        key = attachment_key(settled.ticket_id, settled.id)
        values: dict[str, Any] = {
            ":state": settled.state,
            ":pending": "pending",
            ":at": settled.checked_at,
        }
        expression = "SET #state = :state, checked_at = :at"
        if settled.reason:
            expression += ", reason = :reason"
            values[":reason"] = settled.reason
        entries: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": dump(key),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#state = :pending",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": dump(values),
                }
            },
            self._table.put(audit_to_item(audit)),
        ]
        if settled.state == "rejected":  # its place on the ticket is free again
            entries.append(
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": dump(request_key(settled.ticket_id)),
                        "UpdateExpression": "ADD attachment_slots :minus",
                        "ConditionExpression": "attribute_exists(PK)",
                        "ExpressionAttributeValues": dump({":minus": -1}),
                    }
                }
            )
        return self._table.transact(entries) is None

    def for_customer(self, sub: str, limit: int, next_token: str | None) -> Page:
        partition_key = customer_pk(sub)
        pager = Pager(
            {
                "IndexName": BY_CUSTOMER_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": partition_key},
                "ScanIndexForward": False,
            },
            "GSI1SK",
            CUSTOMER_POSITION,
            lambda at: {
                **request_key(at.rsplit("#", 1)[1]),
                "GSI1PK": partition_key,
                "GSI1SK": at,
            },
        )
        items, token = self._table.page(pager, limit, next_token)
        return Page(items=tuple(ticket_from_item(i) for i in items), next=token)

    def search(
        self,
        terms: Sequence[str],
        limit: int,
        next_token: str | None,
        keep: Callable[[Ticket], bool],
    ) -> Page:
        return search_page(self._table, terms, limit, next_token, keep)

    def by_contact(
        self, limit: int, next_token: str | None, *, address: str | None, domain: str | None
    ) -> Page:
        if address:
            partition_key, sort_key = address_partition(address), META
        else:
            partition_key, sort_key = domain_partition(domain or ""), ""
        pager = Pager(
            {
                "IndexName": CONTACT_INDEX,
                "KeyConditionExpression": "LPK = :pk",
                "ExpressionAttributeValues": {":pk": partition_key},
                "ScanIndexForward": False,
            },
            "LSK",
            CONTACT_POSITION,
            lambda at: self._contact_start(partition_key, sort_key, at),
            lambda last: f"{last['LSK']}|{last['SK']}",
        )
        items, token = self._table.page(pager, limit, next_token)
        if sort_key != META:
            items = resolve(self._table, items)
        return Page(items=tuple(ticket_from_item(i) for i in items), next=token)

    @staticmethod
    def _contact_start(partition_key: str, sort_key: str, position: str) -> dict[str, Any]:
        created, _, item_sk = position.partition("|")
        if sort_key == META and item_sk != META:
            raise InvalidInput("invalid_next", "the `next` token is not one this API issued")
        request_id = created.rsplit("#", 1)[1]
        return {"PK": request_pk(request_id), "SK": item_sk, "LPK": partition_key, "LSK": created}

    def change(self, request_id: str, audit: AuditEvent, *changes: Change) -> None:
        update = Update(self._table, request_id, audit.at)
        for change in changes:
            update.add(change)
        failed = self._table.transact(update.transaction(audit))
        if failed is None:
            return
        if failed == 0:
            raise StaleState(request_id)
        if failed in update.guards:
            raise SendRefused(request_id)
        if failed in update.identities:
            reply = next(c for c in changes if isinstance(c, RecordReply))
            original = self.ticket_for_mail(reply.identity or "")
            if original and original != reply.record.id:
                raise DuplicateMail(original)
        raise AlreadyRecorded(request_id)

    def set_delivery(
        self, request_id: str, item: Message | DelayNotice, delivery: Delivery
    ) -> None:
        if isinstance(item, Message):
            key = message_key(request_id, item.at, item.id)
        else:
            key = delay_notice_key(request_id, item.posted_at, item.id)
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

    def ticket_for_mail(self, identity: str) -> str | None:
        item = self._table.get(mail_identity_key(identity))
        return str(item["record"]) if item and "record" in item else None

    def events(
        self, request_id: str, limit: int, next_token: str | None
    ) -> tuple[list[AuditEvent], str | None]:
        partition_key = request_pk(request_id)
        pager = Pager(
            {
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :audit)",
                "ExpressionAttributeValues": {":pk": partition_key, ":audit": AUDIT_PREFIX},
            },
            "SK",
            AUDIT_POSITION,
            lambda at: {"PK": partition_key, "SK": at},
        )
        items, token = self._table.page(pager, limit, next_token)
        return [audit_from_item(i) for i in items], token

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        return [
            audit_from_item(item)
            for item in self._table.query_all(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :audit)",
                ExpressionAttributeValues=dump(
                    {":pk": request_pk(request_id), ":audit": AUDIT_PREFIX}
                ),
            )
        ]

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """See `indexes.reindex_requests`."""
        return reindex_requests(self._table, progress)

    def corrections(self) -> Iterator[dict[str, Any]]:
        yield from self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=dump({":pk": CORRECTIONS_PK}),
        )
