"""Canned replies (API.md, "Working as a team"): a shared set of answers staff start
from, in Russian or English, with placeholders filled in for the request at hand."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.tickets import Ticket
from chalicelib.values import frozen

LANGUAGES = ("ru", "en")
PLACEHOLDERS = ("customer_name", "request_id", "kb_links", "hours")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# R1.2, R1.3: what `{hours}` says, in each language.
HOURS = {
    "ru": (
        "Заявки из личного кабинета и письма принимаются круглосуточно; чат и Skype "
        "работают по будням с 09:00 до 01:00 и в выходные с 10:00 до 00:00 (время "
        "московское)."
    ),
    "en": (
        "Tickets from your cabinet and e-mail are accepted around the clock; chat and Skype "
        "are staffed 09:00-01:00 on weekdays and 10:00-00:00 at weekends (Moscow time)."
    ),
}
_CUSTOMER = {"ru": "клиент", "en": "customer"}


@frozen
class Macro:
    id: str
    title: str
    lang: str
    text: str
    updated_at: str
    updated_by: str

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "lang": self.lang, "text": self.text}

    def rendered(self, ticket: Ticket) -> Macro:
        """The text with its placeholders filled for `ticket`; R2.3: the knowledge-base
        pages suggested for it go in as links. Only the known placeholders are touched:
        any other brace is the agent's own text."""
        values = {
            "customer_name": ticket.customer_name or _CUSTOMER.get(self.lang, "customer"),
            "request_id": ticket.id,
            "kb_links": "\n".join(f"{a.title}: {a.url}" for a in ticket.kb),
            "hours": HOURS.get(self.lang, HOURS["en"]),
        }
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)
        return Macro(self.id, self.title, self.lang, text, self.updated_at, self.updated_by)
