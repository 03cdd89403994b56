"""Customer satisfaction (API.md "Reports and satisfaction"): asked once when a request
is solved, rated once, counted in the report, a bad rating with a comment put in front
of staff. On fakes (no AWS)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest

from chalicelib.domain.identity import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.adapter import Notification
from chalicelib.ratings import Rating, rating_token
from tests.fakes import FakeWorld, fake_world
from tests.samples import mail

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ANNA = Principal(sub="sub-anna", email=None, groups=frozenset())
BORIS = Principal(sub="sub-boris", email=None, groups=frozenset())
AGENT = Principal(sub="sub-agent", email="agent@hosting.example", groups=frozenset({"staff"}))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})


def _texts(world: FakeWorld) -> list[str]:
    found = []
    for raw in world.mailer.sent:
        message = message_from_bytes(raw.as_bytes(), policy=default)
        found.append(str(message.get_body(preferencelist=("plain",)).get_content()))  # type: ignore[union-attr]
    return found


def _solved(world: FakeWorld) -> str:
    ticket = world.runtime.cabinet.open_ticket(ANNA, NewTicket("Сайт", "Сайт отдаёт 502"))
    world.clock.now = T0 + timedelta(minutes=10)
    world.runtime.lifecycle.set_status(AGENT, ticket.id, "solved", "Перезапустили PHP.")
    world.runtime.sweeper.run(world.clock.now)
    return ticket.id


def test_solving_asks_the_customer_once_to_rate_the_answer(world: FakeWorld) -> None:
    ticket_id = _solved(world)
    [asked] = [t for t in _texts(world) if "Оцените" in t]
    assert f"/tickets/{ticket_id}?rate=good" in asked and f"{ticket_id}?rate=bad" in asked
    world.runtime.sweeper.run(world.clock.now + timedelta(minutes=5))
    assert len([t for t in _texts(world) if "Оцените" in t]) == 1


def test_the_owner_rates_a_solved_ticket_once_and_the_report_counts_it(
    world: FakeWorld,
) -> None:
    ticket_id = _solved(world)
    rated = world.runtime.ratings.rate(ANNA, ticket_id, Rating("good", None))
    assert rated.rating is not None and rated.rating["score"] == "good"
    assert rated.to_api()["rating"]["score"] == "good"
    with pytest.raises(Conflict) as again:
        world.runtime.ratings.rate(ANNA, ticket_id, Rating("bad", "передумала"))
    assert again.value.code == "already_rated"
    assert [e.action for e in world.store.audit_trail(ticket_id)].count("rated") == 1
    report = world.runtime.reports.report(AGENT, {"from": "2026-11-24", "to": "2026-11-24"})
    assert report["rows"][0]["ratings"] == {"good": 1, "bad": 0}


def test_a_ticket_is_rated_only_by_its_owner_and_only_once_solved(world: FakeWorld) -> None:
    ticket = world.runtime.cabinet.open_ticket(ANNA, NewTicket("Сайт", "Сайт отдаёт 502"))
    with pytest.raises(Conflict) as early:
        world.runtime.ratings.rate(ANNA, ticket.id, Rating("good", None))
    assert early.value.code == "rating_not_open"
    world.runtime.lifecycle.set_status(AGENT, ticket.id, "solved", "Готово.")
    with pytest.raises(NotFound):
        world.runtime.ratings.rate(BORIS, ticket.id, Rating("bad", None))
    world.clock.now = T0 + timedelta(days=15)
    with pytest.raises(Conflict) as late:
        world.runtime.ratings.rate(ANNA, ticket.id, Rating("good", None))
    assert late.value.code == "rating_not_open"


def test_an_email_sender_rates_through_the_signed_link_and_a_bad_comment_is_flagged(
    world: FakeWorld,
) -> None:
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[("unit-mail", key)] = mail(subject="Тариф", body="Как сменить тариф?")
    rid = world.runtime.mail.process(Notification("unit-mail", key, None, PASS)).record_id
    world.runtime.desk.respond(AGENT, rid, "В кабинете: Услуги, Сменить тариф.")
    world.runtime.lifecycle.set_status(AGENT, rid, "closed")
    world.runtime.sweeper.run(world.clock.now)  # the outbox's drain sends it
    [asked] = [t for t in _texts(world) if "Оцените" in t]
    token = re.search(r"/ratings/([A-Za-z0-9_-]+)\?score=bad", asked)
    assert token is not None
    rated = world.runtime.ratings.rate_by_link(token.group(1), Rating("bad", "Долго ждала"))
    assert rated.rating is not None and rated.rating["comment"] == "Долго ждала"
    assert "bad_rating" in rated.attention


def test_a_forged_altered_or_expired_link_rates_nothing(world: FakeWorld) -> None:
    ticket_id = _solved(world)
    forged = rating_token(ticket_id, T0 + timedelta(days=14), b"not-the-key")
    altered = world.runtime.ratings.link_token(ticket_id, T0)[:-2] + "AA"
    for token in (forged, altered, "", "x" * 500, "%%%"):
        with pytest.raises(NotFound):
            world.runtime.ratings.rate_by_link(token, Rating("good", None))
    expired = world.runtime.ratings.link_token(ticket_id, T0 - timedelta(days=30))
    with pytest.raises(NotFound):
        world.runtime.ratings.rate_by_link(expired, Rating("good", None))
    good = world.runtime.ratings.link_token(ticket_id, T0)
    assert world.runtime.ratings.rate_by_link(good, Rating("good", None)).rating is not None
