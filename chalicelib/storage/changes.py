"""One request's changes as one DynamoDB transaction: the conditional update of the
request item, the items written beside it, and its place in the staff queue."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.queue import clock_position, queue_label, queue_position
from chalicelib.domain.tallies import Tally
from chalicelib.domain.tickets import AuditEvent, Ticket
from chalicelib.storage import (
    AddAttachment,
    AddDelayNotice,
    AppendMessage,
    Assign,
    Change,
    CorrectScope,
    Enqueue,
    FlagRequest,
    LinkIncident,
    MoveClock,
    NotSuppressed,
    RecordReply,
    SendGuard,
    SetAdminRequest,
    SetRating,
    SetStatus,
    SpendAllowance,
    Unchanged,
)
from chalicelib.storage.attachment_items import attachment_to_item
from chalicelib.storage.codec import (
    correction_item,
    dump,
    incident_link,
    mail_identity_item,
    outbox_to_item,
    sla_attributes,
    ticket_to_item,
)
from chalicelib.storage.conversation_items import (
    audit_to_item,
    delay_to_item,
    message_id_marker,
    message_to_item,
)
from chalicelib.storage.counters import tally_updates
from chalicelib.storage.keys import (
    ASSIGNEE_FACET,
    INCIDENT_LINK,
    LABEL_FACET,
    QUEUE_ALL,
    ack_allowance_key,
    deadline_part,
    deadline_shard,
    incident_key,
    label_partition,
    open_gauge_index,
    open_gauge_key,
    partition,
    queue_facets,
    queue_sort_key,
    request_key,
    request_pk,
    send_allowance_key,
    suppression_key,
)
from chalicelib.storage.table import Table


def open_counter(table: Table, request_id: str, delta: int) -> list[dict[str, Any]]:
    """The gauge of official requests waiting for staff, kept in the same transaction:
    the request's deadline shard's count (`keys.open_gauge_key`)."""
    if delta == 0:
        return []
    shard = deadline_shard(request_id)
    index = open_gauge_index(shard)
    return [
        {
            "Update": {
                "TableName": table.name,
                "Key": dump(open_gauge_key(shard)),
                "UpdateExpression": "ADD open_official :d SET GSI2PK = :pk, GSI2SK = :sk",
                "ExpressionAttributeValues": dump(
                    {":d": delta, ":pk": index["GSI2PK"], ":sk": index["GSI2SK"]}
                ),
            }
        }
    ]


def link_count(table: Table, incident_id: str, delta: int) -> dict[str, Any]:
    """An incident's count of linked requests, moved in the link's own transaction."""
    return {
        "Update": {
            "TableName": table.name,
            "Key": dump(incident_key(incident_id)),
            "UpdateExpression": "ADD linked :d",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": dump({":d": delta}),
        }
    }


def guard_item(table: Table, guard: SendGuard) -> dict[str, Any]:
    """A send guard as a transaction item: a condition check that the address is not
    suppressed, or one entry appended to the recipient's allowance while it has room
    (the entries are `<time> <ref>`, as the markers' long way writes them)."""
    if isinstance(guard, NotSuppressed):
        return {
            "ConditionCheck": {
                "TableName": table.name,
                "Key": dump(suppression_key(guard.address)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    key = ack_allowance_key if guard.kind == "ack" else send_allowance_key
    return {
        "Update": {
            "TableName": table.name,
            "Key": dump(key(guard.address)),
            "UpdateExpression": "SET sent = list_append(if_not_exists(sent, :none), :one)",
            "ConditionExpression": "attribute_not_exists(sent) OR size(sent) < :room",
            "ExpressionAttributeValues": dump(
                {":none": [], ":one": [f"{guard.at} {guard.ref}"], ":room": guard.per_day}
            ),
        }
    }


class Update:
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
        self.guards: set[int] = set()  # transaction positions of send guards
        self.open_delta = 0
        self.position: tuple[str | None, Ticket] | None = None  # a new place in the queue
        self.new_flags: tuple[str, ...] = ()  # flags this change adds: their facets too
        self.new_assignee: tuple[str | None] | None = None  # an assignment this change makes

    def set(self, name: str, value: Any) -> None:
        self.names[f"#{name}"] = name
        if value is None:
            self.removes.append(f"#{name}")
            return
        self.values[f":{name}"] = value
        self.sets.append(f"#{name} = :{name}")

    def add(self, change: Change) -> None:
        if isinstance(change, AppendMessage):
            self._append(change)
        elif isinstance(change, AddDelayNotice):
            self.entries.append(self.table.put_new(delay_to_item(change.notice)))
        elif isinstance(change, MoveClock):
            self._expect(change)
            for name, value in sla_attributes(self.request_id, change.after).items():
                self.set(name, value)
            was, now = deadline_part(change.before), deadline_part(change.after)
            self.open_delta += int(now is not None) - int(was is not None)
            # A running clock means an open request: its place follows the clock. A
            # stopped one moves only with a status (below), which then decides.
            if (running := clock_position(change.after)) and self.position is None:
                self.position = (running, change.request)
        elif isinstance(change, SetStatus):
            after = change.after
            self.conditions.append("#status = :was_status")
            self.values[":was_status"] = change.was
            self.set("status", after.status)
            self.set("waiting_since", after.waiting_since)
            self.set("solved_at", after.solved_at)
            self.position = (queue_position(after), after)
        elif isinstance(change, CorrectScope):
            self.set("scope_correction", change.correction)
            self.entries.append(
                self.table.put_new(correction_item(change.request, change.correction))
            )
            self.entries.append(self._label_facet(change.correction["label"]))
        elif isinstance(change, AddAttachment):
            self._attach(change)
        elif isinstance(change, SetAdminRequest):
            self.set("admin_request", change.value)
        elif isinstance(change, FlagRequest):
            self._flag(change)
        elif isinstance(change, Tally):
            self.entries.extend(tally_updates(self.table, change))
        elif isinstance(change, SetRating):
            self._rate(change)
        elif isinstance(change, LinkIncident):
            self._link(change)
        elif isinstance(change, Assign):
            self._assign(change)
        elif isinstance(change, Enqueue):
            self.entries.append(self.table.put_new(outbox_to_item(change.entry)))
        elif isinstance(change, Unchanged):
            self.conditions.append("updated_at = :seen_at")
            self.values[":seen_at"] = change.updated_at
        elif isinstance(change, (SpendAllowance, NotSuppressed)):
            self.guards.add(len(self.entries) + 1)  # the update is position 0
            self.entries.append(guard_item(self.table, change))
        elif isinstance(change, RecordReply):
            self.entries.append(self.table.put_new(ticket_to_item(change.record)))
            if change.identity:
                self.identities.add(len(self.entries) + 1)  # the update is position 0
                self.entries.append(
                    self.table.put_new(mail_identity_item(change.identity, change.record.id))
                )

    def _append(self, change: AppendMessage) -> None:
        if change.owner is not None:
            self.conditions.append("customer = :owner")
            self.values[":owner"] = change.owner
        message = change.message
        if change.turns is not None:  # nobody wrote in between (a collision, API.md)
            none_yet = "attribute_not_exists(message_count) OR " if change.turns == 0 else ""
            self.conditions.append(f"({none_yet}message_count = :turns)")
            self.values[":turns"] = change.turns
        if message.kind != "note":  # a note is no turn of the conversation
            self.values[":one"], self.values[":zero"] = 1, 0
            self.sets.append("message_count = if_not_exists(message_count, :zero) + :one")
            self.set("last_message_at", message.at)
            self.set("last_message_by", "customer" if message.author == "customer" else "staff")
        self.entries.append(self.table.put_new(message_to_item(message)))
        # A message id is used once per request, whatever its time: a retried answer
        # (the same Idempotency-Key, so the same id) finds it taken.
        self.entries.append(self.table.put_new(message_id_marker(change.message)))

    def _attach(self, change: AddAttachment) -> None:
        self.names["#status"] = "status"
        self.values.update({":closed": "closed", ":room": change.limit, ":none": 0, ":one": 1})
        self.conditions.append("#status <> :closed")
        self.conditions.append(
            "(attribute_not_exists(attachment_slots) OR attachment_slots < :room)"
        )
        self.sets.append("attachment_slots = if_not_exists(attachment_slots, :none) + :one")
        self.entries.append(self.table.put_new(attachment_to_item(change.attachment)))

    def _assign(self, change: Assign) -> None:
        """The assignee, only if it is still the one read; the request's assignee facet
        moves to the new one's partition (at its place in the queue, if it waits)."""
        was = change.request.assignee
        self.names["#assignee"] = "assignee"
        if was is None:
            self.conditions.append("attribute_not_exists(#assignee)")
        else:
            self.names["#assignee_id"] = "id"
            self.conditions.append("#assignee.#assignee_id = :was_assignee")
            self.values[":was_assignee"] = was.id
        self.set("assignee", change.assignee.to_dict() if change.assignee else None)
        self.new_assignee = (change.assignee.id if change.assignee else None,)
        if self.position is None:
            self.position = (queue_position(change.request), change.request)

    def _rate(self, change: SetRating) -> None:
        """The rating, only if there is none; a bad one with a comment asks for staff."""
        self.set("rating", change.rating)
        self.conditions.append("attribute_not_exists(rating)")
        if change.flag:
            self.values[":no_attention"], self.values[":bad_rating"] = [], ["bad_rating"]
            self.sets.append(
                "attention = list_append(if_not_exists(attention, :no_attention), :bad_rating)"
            )

    def _flag(self, change: FlagRequest) -> None:
        """The new scope, only if the flag is not there yet, its audit event, and the
        request's place in the flag's facet of the queue."""
        self.set("scope", change.scope.to_dict())
        self.names["#flags"] = "flags"
        self.conditions.append("NOT contains(#scope.#flags, :new_flag)")
        self.values[":new_flag"] = change.flag
        self.new_flags = (*self.new_flags, change.flag)
        self.entries.append(self.table.put(audit_to_item(change.event)))
        if self.position is None:
            self.position = (queue_position(change.request), change.request)

    def _link(self, change: LinkIncident) -> None:
        """The link on the request, its pointer, and both incidents' counts, only if
        the request is still linked as it was read."""
        was, now = change.request.incident, change.incident
        if was is None:
            self.conditions.append("attribute_not_exists(incident)")
        else:
            self.conditions.append("incident = :was_incident")
            self.values[":was_incident"] = was
            self.entries.append(link_count(self.table, was, -1))
        self.set("incident", now)
        if now is None:
            key = {"PK": request_pk(self.request_id), "SK": INCIDENT_LINK}
            self.entries.append({"Delete": {"TableName": self.table.name, "Key": dump(key)}})
        else:
            self.entries.append(self.table.put(incident_link(change.request, now)))
            self.entries.append(link_count(self.table, now, 1))

    def _label_facet(self, label: str) -> dict[str, Any]:
        """The corrected label's facet: only its partition moves, never its position."""
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": dump({"PK": request_pk(self.request_id), "SK": LABEL_FACET}),
                "UpdateExpression": "SET QPK = :label, entity = :facet, id = :id",
                "ExpressionAttributeValues": dump(
                    {":label": label_partition(label), ":facet": "facet", ":id": self.request_id}
                ),
            }
        }

    def _requeue(self) -> list[dict[str, Any]]:
        """The new position on the request item and on each of its facet items."""
        if self.position is None:
            return []
        position, request = self.position
        sort_key = queue_sort_key(position, self.request_id)
        self.set("QPK", QUEUE_ALL)
        self.set("QSK", sort_key)
        flags = (*request.scope.flags, *self.new_flags)
        assignee = request.assignee.id if request.assignee else None
        if self.new_assignee is not None:
            assignee = self.new_assignee[0]
        facets = queue_facets(request.channel, queue_label(request), flags, assignee)
        entries = []
        for facet, partition_key in facets.items():
            values: dict[str, Any] = {":p": partition_key, ":facet": "facet", ":id": request.id}
            # A facet keeps its partition (a corrected label moves its own); the
            # assignee's moves with each assignment.
            kept = "QPK = :p" if facet == ASSIGNEE_FACET else "QPK = if_not_exists(QPK, :p)"
            expression = f"SET {kept}, entity = :facet, id = :id"
            if sort_key is None:
                expression += " REMOVE QSK"
            else:
                expression += ", QSK = :q"
                values[":q"] = sort_key
            key = {"PK": request_pk(self.request_id), "SK": facet}
            entries.append(
                {
                    "Update": {
                        "TableName": self.table.name,
                        "Key": dump(key),
                        "UpdateExpression": expression,
                        "ExpressionAttributeValues": dump(values),
                    }
                }
            )
        return entries

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
        facets = self._requeue()
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
            *open_counter(self.table, self.request_id, self.open_delta),
            *facets,
        ]
