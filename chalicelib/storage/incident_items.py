"""Incidents and maintenance on DynamoDB (see `keys`).

An incident is one item (`INC#<id>`, `META`) with its updates inline (at most
`UPDATES_MAX`) and a version every save is conditional on; its audit trail sits in its
partition. `ByCustomer` is shared: `GSI1PK` is `INCIDENTS#ACTIVE` while it is active and
`INCIDENTS#PAST` after, so `GET /status` is one Query of the few active ones. The
requests linked to it are pointers in `ByContact` under `INC#<id>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.incidents import Incident, IncidentUpdate
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Page
from chalicelib.storage import AlreadyRecorded, StaleState
from chalicelib.storage.codec import dump, outbox_to_item, ticket_from_item
from chalicelib.storage.conversation_items import audit_to_item
from chalicelib.storage.indexes import resolve
from chalicelib.storage.keys import (
    BY_CUSTOMER_INDEX,
    CONTACT_INDEX,
    INCIDENT_LINK,
    LINKED_POSITION,
    PAST_INCIDENT_POSITION,
    incident_key,
    incident_pk,
    incidents_partition,
    request_pk,
)
from chalicelib.storage.table import Pager, Table


def incident_to_item(incident: Incident) -> dict[str, Any]:
    return {
        **incident_key(incident.id),
        "entity": "incident",
        "GSI1PK": incidents_partition(incident.active),
        "GSI1SK": f"{incident.created_at}#{incident.id}",
        "id": incident.id,
        "kind": incident.kind,
        "services": list(incident.services),
        "title": incident.title,
        "state": incident.state,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "created_by": incident.created_by,
        "starts_at": incident.starts_at,
        "ends_at": incident.ends_at,
        "updates": [u.to_dict() for u in incident.updates],
        "version": incident.version,
    }


def incident_from_item(item: Mapping[str, Any]) -> Incident:
    return Incident(
        id=item["id"],
        kind=item["kind"],
        services=tuple(item.get("services") or ()),
        title=item["title"],
        state=item["state"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        created_by=item.get("created_by", ""),
        starts_at=item.get("starts_at"),
        ends_at=item.get("ends_at"),
        updates=tuple(IncidentUpdate.from_dict(u) for u in item.get("updates") or ()),
        linked=int(item.get("linked") or 0),
        version=int(item.get("version") or 0),
    )


def _audit_item(event: AuditEvent) -> dict[str, Any]:
    return audit_to_item(event, incident_pk(event.ticket_id))


class DynamoIncidents:
    def __init__(self, table: Table) -> None:
        self._table = table

    def create(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        entries = [
            self._table.put_new(incident_to_item(incident)),
            self._table.put(_audit_item(audit)),
        ]
        entries += [self._table.put_new(outbox_to_item(e)) for e in outbox]
        failed = self._table.transact(entries)
        if failed is not None:
            raise AlreadyRecorded(incident.id)

    def get(self, incident_id: str) -> Incident | None:
        item = self._table.get(incident_key(incident_id))
        return incident_from_item(item) if item else None

    def save(
        self, incident: Incident, audit: AuditEvent, outbox: Sequence[OutboxEntry] = ()
    ) -> Incident:
        """Write the incident as changed from version `incident.version`; StaleState if
        another save came first. The link count is the links' own: it is kept as is."""
        saved = incident_to_item(incident)
        saved["version"] = incident.version + 1
        fields = {k: v for k, v in saved.items() if k not in ("PK", "SK") and v is not None}
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in fields.items()}
        values[":read"] = incident.version
        update = {
            "Update": {
                "TableName": self._table.name,
                "Key": dump(incident_key(incident.id)),
                "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                "ConditionExpression": "attribute_exists(PK) AND #version = :read",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": dump(values),
            }
        }
        entries = [update, self._table.put(_audit_item(audit))]
        entries += [self._table.put_new(outbox_to_item(e)) for e in outbox]
        failed = self._table.transact(entries)
        if failed == 0:
            raise StaleState(incident.id)
        if failed is not None:
            raise AlreadyRecorded(incident.id)
        stored = self.get(incident.id)
        assert stored is not None
        return stored

    def active(self) -> list[Incident]:
        items = self._table.query_all(
            IndexName=BY_CUSTOMER_INDEX,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=dump({":pk": incidents_partition(True)}),
            ScanIndexForward=False,
        )
        return [incident_from_item(i) for i in items]

    def past(self, limit: int, next_token: str | None) -> tuple[list[Incident], str | None]:
        partition_key = incidents_partition(False)
        pager = Pager(
            {
                "IndexName": BY_CUSTOMER_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": partition_key},
                "ScanIndexForward": False,
            },
            "GSI1SK",
            PAST_INCIDENT_POSITION,
            lambda at: {
                **incident_key(at.rsplit("#", 1)[1]),
                "GSI1PK": partition_key,
                "GSI1SK": at,
            },
        )
        items, token = self._table.page(pager, limit, next_token)
        return [incident_from_item(i) for i in items], token

    def claim_escalation(self, incident_id: str, entry_id: str) -> bool:
        """The one escalation of an incident's breaches belongs to the first entry that
        claims it; that entry may claim it again (its retry), no other may."""
        return self._table.update(
            incident_key(incident_id),
            "SET escalated_by = :entry",
            "attribute_exists(PK) AND "
            "(attribute_not_exists(escalated_by) OR escalated_by = :entry)",
            {":entry": entry_id},
        )

    def linked(self, incident_id: str, limit: int, next_token: str | None) -> Page:
        """Requests linked to the incident, oldest first."""
        partition_key = incident_pk(incident_id)
        pager = Pager(
            {
                "IndexName": CONTACT_INDEX,
                "KeyConditionExpression": "LPK = :pk",
                "ExpressionAttributeValues": {":pk": partition_key},
            },
            "LSK",
            LINKED_POSITION,
            lambda at: {
                "PK": request_pk(at.rsplit("#", 1)[1]),
                "SK": INCIDENT_LINK,
                "LPK": partition_key,
                "LSK": at,
            },
        )
        items, token = self._table.page(pager, limit, next_token)
        return Page(tuple(ticket_from_item(i) for i in resolve(self._table, items)), token)

    def owe(self, entry: OutboxEntry) -> None:
        """Owe more work in the outbox (a fan-out's next page); once per entry id."""
        if self._table.transact([self._table.put_new(outbox_to_item(entry))]) is not None:
            return  # owed already: a retried page wrote it before
