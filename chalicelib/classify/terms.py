"""The terms a request is found by in staff search (API.md, `GET /staff/search`), and
the terms of a query, made the same way: a word's stem (Russian or English, so "почта"
finds "почты"), the request's id, its sender's address and domain, the site it is about.
Stored by `storage.search_items`."""

from __future__ import annotations

import re

from chalicelib.classify.text import tokenize
from chalicelib.domain.tickets import Ticket
from chalicelib.ids import REQUEST_ID

TERMS_MAX = 30  # per request: they ride in its creating transaction (100 items at most)
TEXT_SCANNED = 4_000  # characters of subject and text a request is indexed by
QUERY_TERMS_MAX = 8
_WORD = re.compile(r"[0-9a-zа-я]")
_WHOLE = re.compile(r"[a-z]-[0-9a-z]+")  # a request id
_REQUEST_ID = re.compile(REQUEST_ID)


def _words(text: str) -> list[str]:
    return [
        t.stem
        for t in tokenize(text)
        if _WORD.match(t.stem) and (len(t.stem) >= 3 or t.stem.isdigit())
    ]


def request_terms(ticket: Ticket) -> list[str]:
    """What a request is found by: its id, who wrote it, the site, then its words' stems
    in order of first appearance, `TERMS_MAX` in all."""
    found = [ticket.id.lower()]
    if ticket.customer_email and "@" in ticket.customer_email:
        address = ticket.customer_email.lower()
        found += [address, address.rsplit("@", 1)[1]]
    if ticket.domain:
        found.append(ticket.domain.lower())
    found += _words(f"{ticket.subject}\n{ticket.text}"[:TEXT_SCANNED])
    return list(dict.fromkeys(t for t in found if len(t) <= 200))[:TERMS_MAX]


def query_terms(q: str) -> list[str]:
    """The terms of a query, as requests are indexed by them (addresses and ids whole)."""
    found: list[str] = []
    for part in q.lower().split():
        if "@" in part or "." in part or _WHOLE.fullmatch(part):
            found.append(part.strip(".,;"))
        else:
            found += _words(part)
    return list(dict.fromkeys(found))[:QUERY_TERMS_MAX]


def keyed_term(term: str) -> str | None:
    """How staff search finds a term with no posting of its own: `id`, a request's id
    (the request's own key), or `address`, a sender's address (the request itself,
    under the address in `ByContact`); None for every other term. No word of a text is
    either, so neither needs a posting for the requests whose text holds it: a word has
    no hyphen, and a word with `@` has no dot (`classify.text` reads an address in a
    text as no word at all)."""
    if term.isascii() and _REQUEST_ID.fullmatch(term.upper()):
        return "id"
    if "@" in term and "." in term:
        return "address"
    return None
