"""A page of `GET /staff/search` on DynamoDB (the index is described in `search_items`):
the lead term's partition newest first, its requests in one BatchGetItem per read,
kept when they hold every term and pass the filters; at most `SEARCH_READS` reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chalicelib.domain.tickets import Page, Ticket
from chalicelib.storage.codec import ticket_from_item
from chalicelib.storage.indexes import resolve
from chalicelib.storage.keys import CUSTOMER_POSITION
from chalicelib.storage.search_items import SEARCH_READS, term_pk
from chalicelib.storage.table import Pager, Table


def search_page(
    table: Table,
    terms: Sequence[str],
    limit: int,
    next_token: str | None,
    keep: Callable[[Ticket], bool],
) -> Page:
    lead = term_pk(max(terms, key=len))  # the longest term: most likely the rarest
    pager = Pager(
        {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": lead},
            "ScanIndexForward": False,
        },
        "SK",
        CUSTOMER_POSITION,  # `<created_at>#<id>`, as the term items are sorted
        lambda at: {"PK": lead, "SK": at},
    )
    wanted, token = set(terms), next_token
    found: list[Ticket] = []
    for _ in range(SEARCH_READS):
        items, token = table.page(pager, limit - len(found), token)
        for item in resolve(table, items):
            ticket = ticket_from_item(item)
            if wanted <= set(item.get("terms") or ()) and keep(ticket):
                found.append(ticket)
        if len(found) >= limit or token is None:
            break
    return Page(items=tuple(found), next=token)
