"""`GET /staff/search` (API.md, "Working as a team"): requests by id, customer e-mail,
domain and the words of subject and text (any word form), with filters, newest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from chalicelib.classify import label_catalogue
from chalicelib.classify.terms import query_terms
from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.queue import queue_item, queue_label
from chalicelib.domain.tickets import Ticket
from chalicelib.errors import InvalidInput
from chalicelib.staff.queries import CHANNELS, assignee_key, assignee_param
from chalicelib.storage import Tickets
from chalicelib.validation import choice_field
from chalicelib.values import frozen

STATUSES = ("open", "answered", "solved", "closed")
Q_MAX = 200


@frozen
class Search:
    terms: tuple[str, ...]
    status: str | None = None
    channel: str | None = None
    label: str | None = None
    assignee: str | None = None  # me, none or a staff id
    start: date | None = None  # received on or after this (UTC) day
    end: date | None = None  # and on or before this one

    def keep(self, staff_id: str) -> Callable[[Ticket], bool]:
        wanted_assignee = assignee_key(self.assignee, staff_id)

        def keep(ticket: Ticket) -> bool:
            day = date.fromisoformat(ticket.created_at[:10])
            owner = ticket.assignee.id if ticket.assignee else "-"
            return (
                (self.status is None or ticket.status == self.status)
                and (self.channel is None or ticket.channel == self.channel)
                and (self.label is None or queue_label(ticket) == self.label)
                and (self.assignee is None or owner == wanted_assignee)
                and (self.start is None or day >= self.start)
                and (self.end is None or day <= self.end)
            )

        return keep


def parse_search(params: dict[str, str]) -> Search:
    q = (params.get("q") or "").strip()
    if not q or len(q) > Q_MAX or not q.isprintable():
        raise InvalidInput("invalid_q", f"`q` is 1 to {Q_MAX} characters of text", field="q")
    terms = tuple(query_terms(q))
    if not terms:
        raise InvalidInput("q_too_short", "`q` needs a word of three letters or more", field="q")
    return Search(
        terms,
        choice_field(params, "status", STATUSES),
        choice_field(params, "channel", CHANNELS),
        choice_field(params, "label", label_catalogue()),
        assignee_param(params.get("assignee")),
        _day(params.get("from"), "from"),
        _day(params.get("to"), "to"),
    )


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"invalid_{name}", f"`{name}` is a date such as 2026-12-04") from None


class StaffSearch:
    def __init__(self, tickets: Tickets) -> None:
        self._tickets = tickets

    def search(
        self, staff: Principal, search: Search, limit: int, next_token: str | None
    ) -> dict[str, Any]:
        require_staff(staff)
        page = self._tickets.search(search.terms, limit, next_token, search.keep(staff.sub))
        return {"items": [queue_item(t) for t in page.items], "next": page.next}
