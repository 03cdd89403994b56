"""Canned replies staff share (API.md, "Working as a team"): list (rendered for a
request), create, change, delete. Staff only; a customer never sees one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.identity import Principal, require_staff
from chalicelib.domain.macros import LANGUAGES, Macro
from chalicelib.domain.tickets import MESSAGE_MAX
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.ids import MACRO_ID, is_request_id, new_macro_id
from chalicelib.storage import Macros, Tickets
from chalicelib.timeutil import Clock, to_iso
from chalicelib.validation import choice_field, reject_unknown_fields, text_field

TITLE_MAX = 120
MACROS_MAX = 500  # a shared set, not a knowledge base


def parse_macro(body: dict[str, Any]) -> tuple[str, str, str]:
    """`{"title", "lang", "text"}`: a one-line title, `ru` or `en`, the reply's text."""
    reject_unknown_fields(body, ("title", "lang", "text"))
    title = text_field(body, "title", max_chars=TITLE_MAX, single_line=True)
    lang = choice_field(body, "lang", LANGUAGES)
    text = text_field(body, "text", max_chars=MESSAGE_MAX)
    if lang is None:
        raise InvalidInput("lang_required", "`lang` is ru or en", field="lang")
    assert title is not None and text is not None
    return title, lang, text


class MacroDesk:
    def __init__(self, macros: Macros, tickets: Tickets, clock: Clock) -> None:
        self._macros = macros
        self._tickets = tickets
        self._clock = clock

    def listing(self, staff: Principal, request: str | None) -> dict[str, Any]:
        """Every macro; with `request`, its placeholders filled for that request."""
        require_staff(staff)
        macros = self._macros.all()
        if request is not None:
            ticket = self._tickets.get(request) if is_request_id(request) else None
            if ticket is None:
                raise NotFound("ticket_not_found", "no such ticket")
            macros = [m.rendered(ticket) for m in macros]
        return {"items": [m.to_api() for m in macros]}

    def create(self, staff: Principal, body: dict[str, Any]) -> Macro:
        require_staff(staff)
        title, lang, text = parse_macro(body)
        if len(self._macros.all()) >= MACROS_MAX:
            raise Conflict("too_many_macros", f"at most {MACROS_MAX} macros")
        macro = Macro(new_macro_id(), title, lang, text, to_iso(self._clock()), staff.sub)
        self._macros.put(macro)
        return macro

    def change(self, staff: Principal, macro_id: str, body: dict[str, Any]) -> Macro:
        require_staff(staff)
        title, lang, text = parse_macro(body)
        found = self._get(macro_id)
        changed = replace(
            found,
            title=title,
            lang=lang,
            text=text,
            updated_at=to_iso(self._clock()),
            updated_by=staff.sub,
        )
        self._macros.put(changed)
        return changed

    def delete(self, staff: Principal, macro_id: str) -> None:
        require_staff(staff)
        if not MACRO_ID.fullmatch(macro_id) or not self._macros.delete(macro_id):
            raise NotFound("macro_not_found", "no such macro")

    def _get(self, macro_id: str) -> Macro:
        found = self._macros.get(macro_id) if MACRO_ID.fullmatch(macro_id) else None
        if found is None:
            raise NotFound("macro_not_found", "no such macro")
        return found
