"""The search index (`GET /staff/search`, API.md): one small item per search term of a
request (`classify.terms`), `S#<term>` / `<created_at>#<id>`, written with the request
in its creating transaction; the request item keeps its `terms` too. A request's id and
its sender's address have no posting (`keyed_term`): the id is the request's own key,
and the address is the request's own partition in `ByContact`, written anyway. (That
is two items of a new ticket's eighteen, four of its write units.)

A page reads the request a query's id names; else the partition of the query's
address in `ByContact`, newest first; else the posting partition of its longest term.
It keeps the requests that hold every other term and pass the filters
(`search_query`): a bounded number of items per page, whatever the table's size.
"""

from __future__ import annotations

from typing import Any

from chalicelib.classify.terms import keyed_term
from chalicelib.domain.tickets import Ticket

SEARCH_READS = 3  # reads of the lead term's partition a page makes at the most


def term_pk(term: str) -> str:
    return f"S#{term}"


def term_items(ticket: Ticket, terms: list[str]) -> list[dict[str, Any]]:
    created = f"{ticket.created_at}#{ticket.id}"
    return [
        {"PK": term_pk(term), "SK": created, "entity": "term", "id": ticket.id}
        for term in terms
        if keyed_term(term) is None
    ]
