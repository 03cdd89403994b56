"""Items of the table and the domain values they hold, both ways."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.classify.terms import request_terms
from chalicelib.domain.people import StaffRef
from chalicelib.domain.queue import queue_label, queue_position
from chalicelib.domain.tickets import (
    KbArticle,
    Origin,
    OutboxEntry,
    Scope,
    Sla,
    StoredAttachment,
    Ticket,
    Wait,
)
from chalicelib.storage.keys import (
    CORRECTIONS_PK,
    INCIDENT_LINK,
    META,
    QUEUE_ALL,
    address_partition,
    contact_pointers,
    customer_pk,
    deadline_keys,
    deadline_part,
    incident_pk,
    mail_identity_key,
    outbox_key,
    queue_facets,
    queue_sort_key,
    receipt_key,
    request_pk,
)
from chalicelib.storage.search_items import term_items

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def dump(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item in DynamoDB's wire form; None attributes are left out."""
    return {k: wire(v) for k, v in item.items() if v is not None}


# Integers DynamoDB holds exactly (38 digits), which boto3 writes as `str` writes them.
_EXACT = 10**38


def wire(value: Any) -> dict[str, Any]:
    """A value in DynamoDB's wire form, as boto3's TypeSerializer writes it. The values
    items are made of (text, flags, whole numbers, lists and maps of them) are written
    here: the serialiser asks each value up to nine questions of its type, about 0.15 ms
    of a new ticket's CPU in the API. Anything else (Decimal, sets, bytes, types
    derived from these, and what DynamoDB refuses) is the serialiser's."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int and -_EXACT < value < _EXACT:
        return {"N": str(value)}
    if kind is dict:
        return {"M": {k: wire(v) for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [wire(v) for v in value]}
    if value is None:
        return {"NULL": True}
    result: dict[str, Any] = _serializer.serialize(value)
    return result


def load(item: Mapping[str, Any]) -> dict[str, Any]:
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


def sla_attributes(request_id: str, sla: Sla | None) -> dict[str, Any]:
    """The clock's attributes and its place in the deadline index; None means removed."""
    if sla is None:
        return {}
    fields: dict[str, Any] = {
        "sla_state": sla.state,
        "due_at": sla.due_at,
        "first_response_at": sla.first_response_at,
        "breached_at": sla.breached_at,
        "warned_at": sla.warned_at,
        "sla_started_at": sla.started_at,
        "sla_history": [w.to_dict() for w in sla.history] or None,
        "sla_ended_at": sla.ended_at,
        "answered_at": sla.answered_at,
        "GSI2PK": None,
        "GSI2SK": None,
    }
    part = deadline_part(sla)
    if part is not None and sla.due_at:
        fields.update(deadline_keys(request_id, sla.due_at, part))
    return fields


def _origin_attributes(origin: Origin | None) -> dict[str, Any]:
    if origin is None:
        return {}
    return {
        "source_ref": origin.source_ref,
        "disposition": origin.disposition,
        "reason": origin.reason,
        "account": origin.account,
        "thread_of": origin.thread_of,
        "message_id": origin.message_id,
        "full_text_s3": origin.full_text_ref,
        "attachments": [a.to_dict() for a in origin.attachments] or None,
        "attachment_count": origin.attachment_count or None,
        "attachments_not_extracted": origin.attachments_not_extracted or None,
        "defects": list(origin.defects) or None,
        "within_hours": origin.within_hours,
        "ended_at": origin.ended_at,
        "ack": origin.ack,
        "conversation_digest": origin.conversation_digest,
        "references": list(origin.references) or None,
    }


def _origin_from(item: Mapping[str, Any]) -> Origin | None:
    if "source_ref" not in item:
        return None
    return Origin(
        source_ref=item["source_ref"],
        disposition=item.get("disposition", "advisory"),
        reason=item.get("reason"),
        account=item.get("account"),
        thread_of=item.get("thread_of"),
        message_id=item.get("message_id"),
        full_text_ref=item.get("full_text_s3"),
        attachments=tuple(StoredAttachment.from_dict(a) for a in item.get("attachments") or ()),
        attachment_count=int(item.get("attachment_count") or 0),
        attachments_not_extracted=int(item.get("attachments_not_extracted") or 0),
        defects=tuple(item.get("defects") or ()),
        within_hours=item.get("within_hours"),
        ended_at=item.get("ended_at"),
        ack=item.get("ack"),
        conversation_digest=item.get("conversation_digest"),
        references=tuple(item.get("references") or ()),
    )


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
        "waiting_since": ticket.waiting_since,
        "solved_at": ticket.solved_at,
        "incident": ticket.incident,
        "admin_request": ticket.admin_request,
        "follow_up_of": ticket.follow_up_of,
        "rating": ticket.rating,
        "customer_name": ticket.customer_name,
        "assignee": ticket.assignee.to_dict() if ticket.assignee else None,
        "last_message_at": ticket.last_message_at,
        "last_message_by": ticket.last_message_by,
        "terms": request_terms(ticket) if _looked_up(ticket) else None,
        "QPK": QUEUE_ALL,
        "QSK": queue_sort_key(queue_position(ticket), ticket.id),
        **_origin_attributes(ticket.origin),
        **sla_attributes(ticket.id, ticket.sla),
    }
    if ticket.customer_email and _looked_up(ticket):
        item["LPK"] = address_partition(ticket.customer_email)
        item["LSK"] = f"{ticket.created_at}#{ticket.id}"
    return item


def _looked_up(ticket: Ticket) -> bool:
    """Requests, not machine mail, duplicates or the records of replies, are looked up."""
    return ticket.origin is None or ticket.origin.disposition == "advisory"


def index_items(ticket: Ticket, terms: list[str] | None = None) -> list[dict[str, Any]]:
    """The request's facet items in the staff queue, its lookup pointers (see keys) and
    its search terms (`terms`, when the caller has made them already)."""
    pk = request_pk(ticket.id)
    position = queue_sort_key(queue_position(ticket), ticket.id)
    # Facets only while it waits: a change that queues it later writes them (`_requeue`).
    assignee = ticket.assignee.id if ticket.assignee else None
    facets = queue_facets(ticket.channel, queue_label(ticket), ticket.scope.flags, assignee)
    items = [
        {"PK": pk, "SK": sk, "entity": "facet", "id": ticket.id, "QPK": qpk, "QSK": position}
        for sk, qpk in (facets.items() if position else ())
    ]
    created = f"{ticket.created_at}#{ticket.id}"
    pointers = contact_pointers(ticket.customer_email, ticket.domain) if _looked_up(ticket) else {}
    items.extend(
        {"PK": pk, "SK": sk, "entity": "pointer", "id": ticket.id, "LPK": lpk, "LSK": created}
        for sk, lpk in pointers.items()
    )
    if ticket.incident:
        items.append(incident_link(ticket, ticket.incident))
    if _looked_up(ticket):  # what staff search finds it by (`search_items`)
        items.extend(term_items(ticket, request_terms(ticket) if terms is None else terms))
    return items


def incident_link(ticket: Ticket, incident_id: str) -> dict[str, Any]:
    """The pointer that lists a request among an incident's linked ones."""
    return {
        "PK": request_pk(ticket.id),
        "SK": INCIDENT_LINK,
        "entity": "pointer",
        "id": ticket.id,
        "LPK": incident_pk(incident_id),
        "LSK": f"{ticket.created_at}#{ticket.id}",
    }


def ticket_from_item(item: Mapping[str, Any]) -> Ticket:
    sla = None
    if item.get("sla_state"):
        sla = Sla(
            state=item["sla_state"],
            due_at=item.get("due_at"),
            first_response_at=item.get("first_response_at"),
            breached_at=item.get("breached_at"),
            warned_at=item.get("warned_at"),
            started_at=item.get("sla_started_at"),
            history=tuple(Wait.from_dict(w) for w in item.get("sla_history") or ()),
            ended_at=item.get("sla_ended_at"),
            answered_at=item.get("answered_at"),
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
        origin=_origin_from(item),
        attention=tuple(item.get("attention") or ()),
        waiting_since=item.get("waiting_since"),
        solved_at=item.get("solved_at"),
        incident=item.get("incident"),
        admin_request=item.get("admin_request"),
        follow_up_of=item.get("follow_up_of"),
        rating=item.get("rating"),
        customer_name=item.get("customer_name"),
        assignee=StaffRef.from_dict(item.get("assignee")),
        last_message_at=item.get("last_message_at"),
        last_message_by=item.get("last_message_by"),
        attachment_slots=int(item.get("attachment_slots") or 0),
    )


def receipt_item(request: Ticket, digest: str) -> dict[str, Any]:
    """The receipt of a keyed create: the request's digest and the request as made."""
    return {
        **receipt_key(request.id),
        "entity": "receipt",
        "digest": digest,
        "ticket": ticket_to_item(request),
    }


def mail_identity_item(identity: str, record_id: str) -> dict[str, Any]:
    return {**mail_identity_key(identity), "record": record_id}


def correction_item(request: Ticket, correction: Mapping[str, Any]) -> dict[str, Any]:
    """A staff correction with the request's words: an evaluation case for the classifier.

    Corrections are rare, so one partition holds them all, in the order they were made.
    """
    return {
        "PK": CORRECTIONS_PK,
        "SK": f"{correction['at']}#{request.id}",
        "entity": "correction",
        "id": request.id,
        "channel": request.channel,
        "subject": request.subject,
        "text": request.text,
        "label": correction["label"],
        "sub": correction.get("sub"),
        "abusive": "abusive" in request.scope.flags,
        "classifier": correction["classifier"],
        "by": correction["by"],
        "at": correction["at"],
    }


def outbox_to_item(entry: OutboxEntry) -> dict[str, Any]:
    return {
        **outbox_key(entry.id, entry.due_at),
        "entity": "outbox",
        "id": entry.id,
        "kind": entry.kind,
        "request_id": entry.request_id,
        # As JSON text: a payload is the notice's own document (floats and all), not
        # something to query, and DynamoDB's number types would change it.
        "payload": json.dumps(entry.payload, ensure_ascii=False, separators=(",", ":")),
        "due_at": entry.due_at,
        "attempts": entry.attempts,
        "last_error": entry.last_error,
    }


def outbox_from_item(item: Mapping[str, Any]) -> OutboxEntry:
    return OutboxEntry(
        id=item["id"],
        kind=item["kind"],
        request_id=item["request_id"],
        payload=dict(json.loads(item.get("payload") or "{}")),
        due_at=item["due_at"],
        attempts=int(item.get("attempts") or 0),
        last_error=item.get("last_error"),
    )
