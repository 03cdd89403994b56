"""Customer satisfaction (API.md "Reports and satisfaction"): when a request is solved
(an official ticket) or closed after an answer (an e-mail request), its customer is
asked once, in the notification that says so, to rate the answer: good or bad, with an
optional comment. The cabinet rates through `POST /tickets/{id}/rating`; an e-mail
sender through a signed link (`/ratings/{token}`), no account needed. A rating is on the
request, in its audit trail and in the SLA report; a bad one with a comment is put in
front of staff (`attention: bad_rating`). A request is rated once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, visible_to
from chalicelib.domain.tallies import tally
from chalicelib.domain.tickets import AuditEvent, Ticket
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.ids import REQUEST_ID, new_event_id
from chalicelib.storage import SetRating, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso
from chalicelib.validation import reject_unknown_fields, text_field
from chalicelib.values import frozen

RATING_DAYS = 14  # how long after it was solved a request may be rated
COMMENT_MAX = 2_000
SCORES = ("good", "bad")
_TOKEN_ID = re.compile(rf"({REQUEST_ID})\.(\d{{8,12}})\.([0-9a-f]{{32}})")


@frozen
class Rating:
    score: str
    comment: str | None


def parse_rating(body: Mapping[str, Any]) -> Rating:
    reject_unknown_fields(dict(body), ("score", "comment"))
    score = body.get("score")
    if score not in SCORES:
        raise InvalidInput("invalid_score", "`score` is good or bad", field="score")
    comment = text_field(dict(body), "comment", max_chars=COMMENT_MAX, required=False)
    return Rating(str(score), comment)


def rating_token(request_id: str, until: datetime, key: bytes) -> str:
    """The signed part of a one-click rating link: the request, until when, and a MAC."""
    payload = f"{request_id}.{int(until.timestamp())}"
    mac = hmac.new(key, b"rating\x00" + payload.encode(), hashlib.sha256).hexdigest()[:32]
    return base64.urlsafe_b64encode(f"{payload}.{mac}".encode()).decode().rstrip("=")


def token_request(token: str, now: datetime, key: bytes) -> str:
    """The request a rating link was made for, or 404 (forged, altered or expired)."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    match = _TOKEN_ID.fullmatch(text) if len(token) <= 200 else None
    if match is None:
        raise NotFound("rating_link_unknown", "this rating link is not valid")
    request_id, until, mac = match.groups()
    payload = f"{request_id}.{until}"
    expected = hmac.new(key, b"rating\x00" + payload.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, mac) or int(until) < now.timestamp():
        raise NotFound("rating_link_unknown", "this rating link is not valid or has expired")
    return request_id


class Ratings:
    def __init__(
        self, tickets: Tickets, clock: Clock, timezone: str, key: Callable[[], bytes]
    ) -> None:
        self._tickets = tickets
        self._clock = clock
        self._timezone = timezone
        self._key = key

    def link_token(self, request_id: str, now: datetime) -> str:
        return rating_token(request_id, now + timedelta(days=RATING_DAYS), self._key())

    def rate(self, customer: Principal, ticket_id: str, rating: Rating) -> Ticket:
        """`POST /tickets/{id}/rating`: the owner of an official ticket rates it."""
        ticket = visible_to(customer, self._tickets.get(ticket_id))
        if customer.is_staff or ticket.customer != customer.sub:
            raise NotFound("ticket_not_found", "no such ticket")
        return self._rate(ticket, rating, customer.sub)

    def rate_by_link(self, token: str, rating: Rating) -> Ticket:
        """`POST /ratings/{token}`: the sender of an e-mail request, from the link."""
        request_id = token_request(token, self._clock(), self._key())
        ticket = self._tickets.get(request_id)
        if ticket is None:
            raise NotFound("rating_link_unknown", "this rating link is not valid")
        return self._rate(ticket, rating, ticket.customer_email or ticket.customer)

    def request_of(self, token: str) -> Ticket:
        """The request a link rates (the page a one-click link opens)."""
        found = self._tickets.get(token_request(token, self._clock(), self._key()))
        if found is None:
            raise NotFound("rating_link_unknown", "this rating link is not valid")
        return found

    def _rate(self, ticket: Ticket, rating: Rating, by: str) -> Ticket:
        now = self._clock()
        if ticket.rating is not None:
            raise Conflict("already_rated", "this request has been rated")
        if not _open_for_rating(ticket, now):
            raise Conflict(
                "rating_not_open",
                f"a request is rated once it is solved, for {RATING_DAYS} days",
            )
        at = to_iso(now)
        value = {"score": rating.score, "comment": rating.comment, "at": at}
        flag = rating.score == "bad" and bool(rating.comment)
        audit = AuditEvent(new_event_id(), ticket.id, "rated", by, at, dict(value))
        counted = tally(ticket, now, self._timezone, {f"rating_{rating.score}": 1})
        try:
            self._tickets.change(ticket.id, audit, SetRating(value, flag), counted)
        except StaleState:
            raise Conflict("already_rated", "this request has been rated") from None
        obs.count(obs.RATINGS, score=rating.score)
        updated = self._tickets.get(ticket.id)
        assert updated is not None
        return updated


def _open_for_rating(ticket: Ticket, now: datetime) -> bool:
    """Solved (or closed after it was), or an e-mail request staff closed, within
    `RATING_DAYS` of that (`solved_at`)."""
    since = ticket.solved_at
    if since is None or ticket.status not in ("solved", "closed"):
        return False
    return now - parse_iso(since) <= timedelta(days=RATING_DAYS)


def parse_rating_form(raw: bytes | None, content_type: str, max_bytes: int) -> Rating:
    """A rating from the link's page (a form) or from a program (JSON)."""
    from urllib.parse import parse_qs

    from chalicelib.validation import parse_json_object

    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        if raw is not None and len(raw) > max_bytes:
            raise InvalidInput("body_too_large", f"the body is over {max_bytes} bytes")
        try:
            fields = parse_qs((raw or b"").decode("utf-8"), max_num_fields=4, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput("invalid_form", "the form could not be read") from None
        body = {k: v[0] for k, v in fields.items() if v}
        if not body.get("comment", "").strip():
            body.pop("comment", None)
        return parse_rating(body)
    return parse_rating(parse_json_object(raw, max_bytes))


_PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main>
<h1>{title}</h1>
{content}
</main></body></html>
"""


def rating_page(ticket: Ticket, score: str | None, done: bool = False) -> str:
    """The page a one-click link opens: the choice already made, a comment, one button
    (a link alone never rates: mail scanners open links)."""
    import html

    subject = html.escape(ticket.subject or ticket.id)
    if done:
        content = "<p>Спасибо за оценку! / Thank you for your rating!</p>"
        return _PAGE.format(title="Спасибо / Thank you", content=content)
    choices = "".join(
        f'<p><label><input type="radio" name="score" value="{value}"'
        f"{' checked' if value == score else ''} required> {label}</label></p>"
        for value, label in (("good", "Хорошо / Good"), ("bad", "Плохо / Bad"))
    )
    content = (
        f"<p>Обращение / Request {html.escape(ticket.id)}: {subject}</p>"
        '<form method="post" action="">'
        f"{choices}"
        '<p><label for="comment">Комментарий / Comment</label><br>'
        f'<textarea id="comment" name="comment" rows="4" cols="50" maxlength="{COMMENT_MAX}">'
        "</textarea></p>"
        '<p><button type="submit">Оценить / Rate</button></p></form>'
    )
    return _PAGE.format(title="Оцените ответ / Rate the answer", content=content)
