"""A page of `GET /staff/search` on DynamoDB (the index is described in `search_items`):
the request a query's id names; else the requests under its address in `ByContact`, or
its longest term's postings (their requests in one BatchGetItem per read), newest
first; kept when they hold every term and pass the filters; at most `SEARCH_READS`
reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.classify.terms import keyed_term
from chalicelib.domain.tickets import Page, Ticket
from chalicelib.storage.codec import ticket_from_item
from chalicelib.storage.indexes import resolve
from chalicelib.storage.keys import (
    CONTACT_INDEX,
    CUSTOMER_POSITION,
    META,
    address_partition,
    decode_position_token,
    request_key,
    request_pk,
)
from chalicelib.storage.search_items import SEARCH_READS, term_pk
from chalicelib.storage.table import Pager, Table


def search_page(
    table: Table,
    terms: Sequence[str],
    limit: int,
    next_token: str | None,
    keep: Callable[[Ticket], bool],
) -> Page:
    wanted = set(terms)

    def kept(items: list[dict[str, Any]]) -> list[Ticket]:
        tickets = [ticket_from_item(i) for i in items if wanted <= set(i.get("terms") or ())]
        return [t for t in tickets if keep(t)]

    kinds = [keyed_term(term) for term in terms]
    if "id" in kinds:
        return _named(table, terms[kinds.index("id")].upper(), next_token, kept)
    if "address" in kinds:
        pager, pointers = _by_address(terms[kinds.index("address")]), False
    else:  # the longest term: most likely the rarest
        pager, pointers = _by_term(max(terms, key=len)), True
    token = next_token
    found: list[Ticket] = []
    for _ in range(SEARCH_READS):
        items, token = table.page(pager, limit - len(found), token)
        found += kept(resolve(table, items) if pointers else items)
        if len(found) >= limit or token is None:
            break
    return Page(items=tuple(found), next=token)


def _named(
    table: Table,
    request_id: str,
    next_token: str | None,
    kept: Callable[[list[dict[str, Any]]], list[Ticket]],
) -> Page:
    """The one request a query's id names, when it holds the other terms too (a later
    page, which no answer of this kind offers, has what is older than its position)."""
    before = decode_position_token(next_token, CUSTOMER_POSITION) if next_token else None
    item = table.get(request_key(request_id), consistent=False)
    if item is None or (before is not None and f"{item['created_at']}#{item['id']}" >= before):
        return Page(items=(), next=None)
    return Page(items=tuple(kept([item])), next=None)


def _by_address(address: str) -> Pager:
    """The requests under a sender's address in `ByContact` (request items: no pointer)."""
    partition = address_partition(address)
    return Pager(
        {
            "IndexName": CONTACT_INDEX,
            "KeyConditionExpression": "LPK = :pk",
            "ExpressionAttributeValues": {":pk": partition},
            "ScanIndexForward": False,
        },
        "LSK",
        CUSTOMER_POSITION,  # `<created_at>#<id>`, as the partition is sorted
        lambda at: {
            "PK": request_pk(at.rsplit("#", 1)[1]),
            "SK": META,
            "LPK": partition,
            "LSK": at,
        },
    )


def _by_term(term: str) -> Pager:
    lead = term_pk(term)
    return Pager(
        {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": lead},
            "ScanIndexForward": False,
        },
        "SK",
        CUSTOMER_POSITION,  # `<created_at>#<id>`, as the term items are sorted
        lambda at: {"PK": lead, "SK": at},
    )
