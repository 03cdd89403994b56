"""Incidents and maintenance on DynamoDB (see `keys`).

An incident is one item (`INC#<id>`, `META`) with its updates inline (at most
`UPDATES_MAX`) and a version every save is conditional on; its audit trail sits in its
partition. `ByCustomer` is shared: `GSI1PK` is `INCIDENTS#ACTIVE` while it is active and
`INCIDENTS#PAST` after, so `GET /status` is one Query of the few active ones. The
requests linked to it are pointers in `ByContact` under `INC#<id>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.incidents import Incident, IncidentUpdate
from chalicelib.domain.tickets import AuditEvent, OutboxEntry, Page
from chalicelib.storage import AlreadyRecorded, StaleState
from chalicelib.storage.codec import audit_to_item, dump, load, outbox_to_item, ticket_from_item
from chalicelib.storage.indexes import resolve
from chalicelib.storage.keys import (
    BY_CUSTOMER_INDEX,
    CONTACT_INDEX,
    decode_position_token,
    encode_position_token,
    incident_key,
    incident_pk,
    incidents_partition,
    request_pk,
)
from chalicelib.storage.table import Table

_LINKED_POSITION = re.compile(r"[0-9T:.+-]{20,40}#[TEC]-[0-9A-Z]{5,12}")
_PAST_POSITION = re.compile(r"[0-9T:.+-]{20,40}#I-[0-9A-Z]{8,12}")


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

    def create(self, incident: Incident, audit: AuditEvent) -> None:
        failed = self._table.transact(
            [self._table.put_new(incident_to_item(incident)), self._table.put(_audit_item(audit))]
        )
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
        params: dict[str, Any] = {
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": dump({":pk": incidents_partition(False)}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            position = decode_position_token(next_token, _PAST_POSITION)
            incident_id = position.rsplit("#", 1)[1]
            params["ExclusiveStartKey"] = dump(
                {
                    **incident_key(incident_id),
                    "GSI1PK": incidents_partition(False),
                    "GSI1SK": position,
                }
            )
        response = self._table.query(**params)
        items = [load(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_position_token(load(last)["GSI1SK"]) if last and items else None
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
        params: dict[str, Any] = {
            "IndexName": CONTACT_INDEX,
            "KeyConditionExpression": "LPK = :pk",
            "ExpressionAttributeValues": dump({":pk": incident_pk(incident_id)}),
            "Limit": limit,
        }
        if next_token:
            position = decode_position_token(next_token, _LINKED_POSITION)
            request_id = position.rsplit("#", 1)[1]
            params["ExclusiveStartKey"] = dump(
                {
                    "PK": request_pk(request_id),
                    "SK": "@L#INC",
                    "LPK": incident_pk(incident_id),
                    "LSK": position,
                }
            )
        response = self._table.query(**params)
        items = [load(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        token = encode_position_token(load(last)["LSK"]) if last and items else None
        return Page(tuple(ticket_from_item(i) for i in resolve(self._table, items)), token)

    def owe(self, entry: OutboxEntry) -> None:
        """Owe more work in the outbox (a fan-out's next page); once per entry id."""
        if self._table.transact([self._table.put_new(outbox_to_item(entry))]) is not None:
            return  # owed already: a retried page wrote it before
