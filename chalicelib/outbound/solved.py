"""The mail that tells a customer their request is solved and asks, once, for a rating
(API.md "Reports and satisfaction"): an official ticket's owner when staff solve it, an
e-mail request's sender when staff close it after answering. Sent from the outbox like
every customer mail: a machine sender, a suppressed address or a spent daily allowance
gets nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib import observability as obs
from chalicelib.accounts import AccountDirectory, Profile
from chalicelib.domain.tickets import OutboxEntry, Ticket
from chalicelib.outbound.compose import (
    Letter,
    compose,
    language_of,
    to_message,
)
from chalicelib.outbound.delivery import entry_for
from chalicelib.outbound.mailer import Mailer
from chalicelib.outbound.routing import SOLVED_MAIL
from chalicelib.outbound.sender import CustomerMail, MailSettings
from chalicelib.storage import Markers, Tickets
from chalicelib.timeutil import Clock, to_iso

_RATE = {
    "ru": "Оцените, пожалуйста, ответ (один щелчок):\n  хорошо: {good}\n  плохо: {bad}",
    "en": "Please rate the answer (one click):\n  good: {good}\n  bad: {bad}",
}
_REPLY_TO_RATE = {
    "ru": "Понравился ли вам ответ? Напишите нам в ответ на это письмо.",
    "en": "Did the answer help? Tell us by replying to this message.",
}
_MORE = {
    "ru": {
        "cabinet": "Если вопрос не решён, откройте заявку снова в личном кабинете: {link}",
        "email": "Если вопрос не решён, ответьте на это письмо: мы откроем новое обращение.",
    },
    "en": {
        "cabinet": "If it is not solved, reopen the ticket in your cabinet: {link}",
        "email": "If it is not solved, reply to this message and we open a new request.",
    },
}


def solved_mail_owed(ticket: Ticket, at: str) -> OutboxEntry | None:
    """What solving (or closing an answered e-mail request) owes its customer."""
    if ticket.official or (ticket.channel == "email" and ticket.customer_email):
        return entry_for(SOLVED_MAIL, ticket.id, f"solved-{at}", {"solved_at": at}, at)
    return None


class SolvedMail(CustomerMail):
    """The solved notification, through the same gate as every customer mail."""

    def __init__(
        self,
        tickets: Tickets,
        markers: Markers,
        directory: AccountDirectory,
        mailer: Mailer,
        settings: MailSettings,
        clock: Clock,
        rating_link: Callable[[str, datetime], str],
    ) -> None:
        super().__init__(tickets, markers, directory, mailer, settings, clock)
        self._rating_link = rating_link

    def send(self, entry: OutboxEntry) -> None:
        ticket = self._tickets.get(entry.request_id)
        if ticket is None or ticket.solved_at != entry.payload.get("solved_at"):
            return  # reopened meanwhile, or solved again (that owes its own mail)
        if ticket.rating is not None or (ticket.origin and ticket.origin.disposition != "advisory"):
            return
        profile = self._directory.profile(ticket.customer) if ticket.official else Profile()
        now = self._clock()
        to, refused = self.cleared(ticket.customer_email or profile.email, to_iso(now), entry)
        if refused is not None:
            return  # no one to ask: the request stays solved, unrated
        language = language_of(f"{ticket.subject}\n{ticket.text}", profile.locale)
        letter = self._solved_letter(ticket, to, language, now)
        message = to_message(letter, sender=self._settings.sender, clock=self._clock)
        self._mailer.send(message, source=self._settings.sender, to=to)
        obs.count(obs.MAIL_SENT, kind=SOLVED_MAIL)

    def _solved_letter(self, ticket: Ticket, to: str, language: str, now: datetime) -> Letter:
        base = self._settings.cabinet_url.rsplit("/", 1)[0]
        link = f"{base}/{ticket.id}"
        lang = "ru" if language == "ru" else "en"
        rating = self._rating_link(ticket.id, now) if not ticket.official else link
        if ticket.official:
            rate = _RATE[lang].format(good=f"{link}?rate=good", bad=f"{link}?rate=bad")
        elif rating:
            rate = _RATE[lang].format(good=f"{rating}?score=good", bad=f"{rating}?score=bad")
        else:  # no public API address configured: no link to give
            rate = _REPLY_TO_RATE[lang]
        more = _MORE[lang]["cabinet" if ticket.official else "email"].format(link=link)
        origin = ticket.origin
        answered = origin.message_id if origin and not ticket.official else None
        return compose(
            "solved_notification",
            language,
            {
                "id": ticket.id,
                "subject": ticket.subject or "",
                "rate": rate,
                "more": more,
            },
            to=to,
            message_id=f"<solved-{ticket.id}.{int(now.timestamp())}@{self._settings.domain}>",
            in_reply_to=answered,
            references=(answered,) if answered else (),
            automatic="auto-generated",
        )
