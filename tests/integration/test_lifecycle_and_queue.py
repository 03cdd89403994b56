"""The ticket lifecycle and the one staff queue on moto (issue 15, R2.5, API.md
"Conversations and the ticket lifecycle"): follow-ups, advisory records, statuses,
auto-close, lookup, and what a queue page costs."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.domain.identity import Principal
from chalicelib.errors import Conflict, Forbidden, NotFound
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.adapter import Notification
from chalicelib.runtime import Runtime, build_runtime
from chalicelib.staff.forms import parse_scope_correction
from chalicelib.staff.queries import Contact, QueueFilter
from tests.conftest import Api, Notices, make_token
from tests.fakes import FixedClock as Clock
from tests.samples import mail

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
BORIS = Principal("sub-boris", "boris@example.org", frozenset())
AGENT = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def rt(aws: Any, clock: Clock) -> Runtime:
    return build_runtime(Settings.from_env(os.environ), clock=clock)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(minutes: float) -> str:
    return at(minutes).isoformat(timespec="milliseconds")


def ticket(rt: Runtime, who: Principal = ANNA, text: str = "Сайт отдаёт 502 с утра") -> str:
    body, _ = rt.cabinet.create_ticket(who, NewTicket(subject="Сайт", text=text), None)
    return str(body["id"])


def email(rt: Runtime, sender: str = "olga@shop.example", **kw: str) -> str:
    key = f"raw/{uuid.uuid4().hex}"
    bucket = os.environ["MAIL_BUCKET"]
    boto3.client("s3", region_name="eu-central-1").put_object(
        Bucket=bucket, Key=key, Body=mail(sender=sender, **kw)
    )
    return rt.mail.process(Notification(bucket, key, sender, PASS)).record_id


def queue(rt: Runtime, size: int = 2, **filters: str) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = rt.desk.queue(AGENT, size, token, QueueFilter(**filters))
        ids += [item["id"] for item in page["items"]]
        token = page["next"]
        if token is None:
            return ids


def status_of(rt: Runtime, request_id: str) -> str:
    found = rt.store.tickets.get(request_id)
    assert found is not None
    return found.status


# -- R2.5: a follow-up is a new timed wait, in the queue like the first --------------------


def test_a_follow_up_on_an_answered_ticket_is_back_in_the_queue_and_breaches_if_left(
    rt: Runtime, clock: Clock, notices: Notices
) -> None:
    tid = ticket(rt)
    clock.now = at(10)
    rt.desk.respond(AGENT, tid, "Перезапустили PHP-FPM.")
    assert queue(rt) == []
    clock.now = at(30)
    rt.cabinet.add_message(ANNA, tid, "Нет, FTP всё ещё пишет 530")
    [item] = rt.desk.queue(AGENT, 10, None, QueueFilter())["items"]
    assert item["id"] == tid and item["status"] == "open"
    assert item["sla"]["due_at"] == iso(90)  # 60 minutes from the follow-up
    assert item["waiting_since"] == iso(30)
    sla = rt.store.tickets.get(tid).sla  # type: ignore[union-attr]
    assert sla is not None and [w.state for w in sla.history] == ["met"]
    assert rt.sweeper.run(at(76)).warned == [tid]
    assert rt.sweeper.run(at(91)).breached == [tid]
    assert [n["ticket_id"] for n in notices.all("sla_breach")] == [tid]
    assert queue(rt) == [tid]  # breached, still owed an answer, and leading


def test_breaches_lead_then_running_deadlines_then_advisory_records_oldest_first(
    rt: Runtime, clock: Clock
) -> None:
    clock.now = at(-100)
    old_mail = email(rt, subject="Вопрос про тариф", body="Какой тариф выбрать для блога?")
    first = ticket(rt)  # due at -40: breached by the sweep below
    clock.now = at(0)
    second = ticket(rt)  # due at 60
    clock.now = at(5)
    new_mail = email(rt, sender="ivan@other.example")
    rt.sweeper.run(at(6))
    assert queue(rt) == [first, second, old_mail, new_mail]
    page = rt.desk.queue(AGENT, 10, None, QueueFilter())["items"]
    assert [i["sla"] is None for i in page] == [False, False, True, True]
    assert page[2]["from_addr"] == "olga@shop.example" and page[2]["waiting_since"] == iso(-100)


def test_an_email_record_waits_in_the_queue_until_it_is_answered(rt: Runtime, clock: Clock) -> None:
    rid = email(rt)
    assert queue(rt) == [rid] and queue(rt, channel="email") == [rid]
    assert queue(rt, channel="cabinet") == []
    clock.now = at(20)
    rt.desk.respond(AGENT, rid, "Проверьте SPF-запись домена.")
    assert status_of(rt, rid) == "answered"
    assert queue(rt) == [] and queue(rt, channel="email") == []


def test_filters_by_channel_label_and_flag_follow_the_request(rt: Runtime) -> None:
    tid = ticket(rt, text="MySQL не отвечает, сайт лежит")
    rid = email(rt, subject="Помогите", body="Что-то не так")
    label = rt.store.tickets.get(tid).scope.label  # type: ignore[union-attr]
    assert queue(rt, channel="cabinet") == [tid]
    assert tid in queue(rt, label=label)
    flags = rt.store.tickets.get(rid).scope.flags  # type: ignore[union-attr]
    assert "needs_details" in flags and queue(rt, flag="needs_details") == [rid]
    rt.desk.correct_scope(AGENT, tid, parse_scope_correction({"label": "paid_admin"}))
    assert queue(rt, label="paid_admin") == [tid]
    assert tid not in queue(rt, label=label)
    rt.lifecycle.set_status(AGENT, tid, "closed", "Закрываем: ответ в письме.")
    assert queue(rt, label="paid_admin") == [] and queue(rt, channel="cabinet") == []


def test_a_queue_page_is_one_query_or_one_query_and_one_batch(rt: Runtime) -> None:
    for _ in range(30):
        ticket(rt)
    email(rt)
    calls: list[str] = []
    client = rt.store.deadlines._table.client  # type: ignore[attr-defined]

    def count(name: str) -> Any:
        def seen(**_: Any) -> None:
            calls.append(name)

        return seen

    client.meta.events.register("before-call.dynamodb.Query", count("Query"))
    client.meta.events.register("before-call.dynamodb.BatchGetItem", count("BatchGetItem"))
    page = rt.desk.queue(AGENT, 20, None, QueueFilter())
    assert len(page["items"]) == 20 and calls == ["Query"]
    calls.clear()
    rt.desk.queue(AGENT, 20, page["next"], QueueFilter())
    assert calls == ["Query"]
    calls.clear()
    assert len(rt.desk.queue(AGENT, 20, None, QueueFilter(channel="email"))["items"]) == 1
    assert calls == ["Query", "BatchGetItem"]


# -- statuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "who", "target", "allowed"),
    [
        ("open", AGENT, "solved", True),
        ("open", AGENT, "closed", True),
        ("answered", AGENT, "open", True),
        ("answered", AGENT, "solved", True),
        ("solved", AGENT, "open", True),
        ("solved", AGENT, "closed", True),
        ("open", AGENT, "answered", False),
        ("closed", AGENT, "open", False),
        ("closed", AGENT, "solved", False),
        ("open", ANNA, "closed", True),
        ("answered", ANNA, "closed", True),
        ("solved", ANNA, "closed", True),
        ("solved", ANNA, "open", True),
        ("open", ANNA, "solved", False),
        ("answered", ANNA, "solved", False),
        ("answered", ANNA, "open", False),
        ("closed", ANNA, "open", False),
    ],
)
def test_every_status_move_is_allowed_or_409(
    rt: Runtime, clock: Clock, start: str, who: Principal, target: str, allowed: bool
) -> None:
    tid = ticket(rt)
    clock.now = at(5)
    if start in ("answered", "solved", "closed"):
        rt.desk.respond(AGENT, tid, "Готово.")
    if start in ("solved", "closed"):
        rt.lifecycle.set_status(AGENT, tid, start)  # type: ignore[arg-type]
    assert status_of(rt, tid) == start
    clock.now = at(10)
    if not allowed:
        with pytest.raises(Conflict) as caught:
            rt.lifecycle.set_status(who, tid, target)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_transition"
        assert status_of(rt, tid) == start
        return
    # R2.8: staff end a waiting customer's wait only with an answer
    text = "Готово." if start == "open" and who.is_staff else None
    if text:
        with pytest.raises(Conflict) as refused:
            rt.lifecycle.set_status(who, tid, target)  # type: ignore[arg-type]
        assert refused.value.code == "answer_required"
    moved = rt.lifecycle.set_status(who, tid, target, text)  # type: ignore[arg-type]
    assert moved.status == target == status_of(rt, tid)
    trail = rt.store.tickets.audit_trail(tid)
    [event] = [e for e in trail if e.at == iso(10) and e.action == "status_changed"]
    was = "answered" if text else start  # the answer went first
    assert (event.action, event.actor, event.detail) == (
        "status_changed",
        who.sub,
        {"from": was, "to": target},
    )


def test_a_customer_reopens_a_solved_ticket_only_within_seven_days_with_a_new_deadline(
    rt: Runtime, clock: Clock
) -> None:
    tid = ticket(rt)
    clock.now = at(5)
    rt.desk.respond(AGENT, tid, "Готово.")
    rt.lifecycle.set_status(AGENT, tid, "solved")
    clock.now = at(5 + 7 * 24 * 60 - 1)
    reopened = rt.lifecycle.set_status(ANNA, tid, "open")
    assert reopened.sla is not None and reopened.sla.state == "pending"
    assert reopened.sla.due_at == iso(5 + 7 * 24 * 60 + 59)
    assert queue(rt) == [tid]

    late = ticket(rt)
    rt.desk.respond(AGENT, late, "Готово.")
    rt.lifecycle.set_status(AGENT, late, "solved")
    clock.now = at(5 + 14 * 24 * 60 + 1)
    with pytest.raises(Conflict) as caught:
        rt.lifecycle.set_status(ANNA, late, "open")
    assert caught.value.code == "invalid_transition"


def test_closing_an_unanswered_ticket_ends_its_wait_without_a_breach(
    rt: Runtime, clock: Clock, notices: Notices
) -> None:
    tid = ticket(rt)
    clock.now = at(10)
    closed = rt.lifecycle.set_status(ANNA, tid, "closed")
    assert closed.sla is not None and closed.sla.ended_at == iso(10)
    assert rt.sweeper.run(at(70)).breached == [] and notices.all("sla_breach") == []
    assert rt.store.deadlines.open_count() == 0 and queue(rt) == []


def test_others_cannot_move_a_ticket_and_advisory_records_are_staffs(rt: Runtime) -> None:
    tid = ticket(rt)
    with pytest.raises(NotFound):
        rt.lifecycle.set_status(BORIS, tid, "closed")
    rid = email(rt, sender="anna@flowershop.example")
    with pytest.raises(Conflict):
        rt.lifecycle.set_status(AGENT, rid, "solved")  # advisory: open, answered, closed
    assert rt.lifecycle.set_status(AGENT, rid, "closed").status == "closed"
    assert queue(rt) == [tid]


def test_a_solved_ticket_closes_by_itself_after_seven_days(rt: Runtime, clock: Clock) -> None:
    tid, reopened = ticket(rt), ticket(rt)
    clock.now = at(5)
    for each in (tid, reopened):
        rt.desk.respond(AGENT, each, "Готово.")
        rt.lifecycle.set_status(AGENT, each, "solved")
    clock.now = at(60)
    rt.lifecycle.set_status(ANNA, reopened, "open")
    rt.sweeper.run(at(5 + 7 * 24 * 60 - 1))
    assert status_of(rt, tid) == "solved"
    clock.now = at(5 + 7 * 24 * 60 + 1)
    rt.sweeper.run(clock.now)
    assert status_of(rt, tid) == "closed"
    assert status_of(rt, reopened) == "open"  # reopened: its close was no longer owed
    [event] = [e for e in rt.store.tickets.audit_trail(tid) if e.actor == "auto-close"]
    assert event.detail["to"] == "closed"
    with pytest.raises(Conflict) as caught:
        rt.cabinet.add_message(ANNA, tid, "Ещё вопрос")
    assert caught.value.code == "ticket_closed"


def test_a_mail_reply_to_a_closed_ticket_becomes_a_new_request(rt: Runtime) -> None:
    rid = email(rt, message_id="<first@shop.example>")
    rt.desk.respond(AGENT, rid, "Ответ")
    rt.lifecycle.set_status(AGENT, rid, "closed")
    reply = email(rt, subject=f"Re: Почта не работает [#{rid}]", In_Reply_To="<first@shop.example>")
    made = rt.store.tickets.get(reply)
    assert made is not None and made.origin is not None
    assert made.origin.disposition == "advisory" and status_of(rt, rid) == "closed"


# -- lookup ----------------------------------------------------------------------------


def test_staff_look_up_a_customers_or_a_domains_requests_newest_first(
    rt: Runtime, clock: Clock
) -> None:
    first = email(rt, sender="olga@shop.example")
    clock.now = at(1)
    second = email(rt, sender="OLGA@shop.example")
    clock.now = at(2)
    colleague = email(rt, sender="petr@shop.example")
    clock.now = at(3)
    body, _ = rt.cabinet.create_ticket(
        ANNA, NewTicket(subject="Сайт", text="Сайт не открывается", domain="shop.example"), None
    )
    email(rt, sender="someone@else.example")

    def look(**contact: str) -> list[str]:
        ids, token = [], None
        while True:
            page = rt.desk.lookup(AGENT, 2, token, Contact(**contact))
            ids += [t.id for t in page.items]
            if (token := page.next) is None:
                return ids

    assert look(address="olga@shop.example") == [second, first]
    assert look(domain="shop.example") == [body["id"], colleague, second, first]
    assert look(address="nobody@shop.example") == []
    with pytest.raises(Forbidden):
        rt.desk.lookup(ANNA, 10, None, Contact(address="olga@shop.example"))


# -- over HTTP ---------------------------------------------------------------------------


def test_status_and_lookup_over_http(api: Api) -> None:
    anna = make_token("sub-anna", "anna@flowershop.example")
    boris = make_token("sub-boris", "boris@example.org")
    staff = make_token("sub-agent", "agent@hosting.example", ["staff"])
    code, made, _ = api.call("POST", "/tickets", token=anna, body={"subject": "s", "text": "t"})
    assert code == 201
    path = f"/tickets/{made['id']}/status"
    assert api.call("PUT", path, body={"status": "closed"})[0] == 401
    assert api.call("PUT", path, token=boris, body={"status": "closed"})[0] == 404
    code, body, _ = api.call("PUT", path, token=anna, body={"status": "solved"})
    assert (code, body["error"]["code"]) == (409, "invalid_transition")
    code, body, _ = api.call("PUT", path, token=anna, body={"status": "done"})
    assert (code, body["error"]["code"]) == (400, "invalid_status")
    code, body, _ = api.call("PUT", path, token=staff, body={"status": "solved"})
    assert (code, body["error"]["code"]) == (409, "answer_required")  # R2.8
    code, body, _ = api.call(
        "PUT", path, token=anna, body={"status": "closed", "text": "сам справился"}
    )
    assert (code, body["error"]["code"]) == (400, "text_not_allowed")
    answer = {"status": "solved", "text": "Проверили: всё работает."}
    code, body, _ = api.call("PUT", path, token=staff, body=answer)
    assert (code, body["status"], body["sla"]["state"]) == (200, "solved", "met")
    code, body, _ = api.call("GET", "/staff/queue?channel=fax", token=staff)
    assert (code, body["error"]["code"]) == (400, "invalid_channel")
    code, body, _ = api.call("GET", "/staff/queue?channel=email&flag=abusive", token=staff)
    assert (code, body["error"]["code"]) == (400, "one_filter")
    code, body, _ = api.call("GET", "/staff/tickets", token=staff)
    assert (code, body["error"]["code"]) == (400, "contact_required")
    assert api.call("GET", "/staff/tickets?domain=shop.example", token=anna)[0] == 403
    code, body, _ = api.call("GET", "/staff/tickets?domain=shop.example", token=staff)
    assert (code, body["items"]) == (200, [])
    code, body, _ = api.call("GET", f"/tickets/{made['id']}/events", token=staff)
    kinds = [e["kind"] for e in body["items"]]
    assert kinds == ["ticket_created", "staff_response", "status_changed"]
    assert api.call("GET", f"/tickets/{made['id']}/events", token=anna)[0] == 403


# -- the index is always what the requests say ---------------------------------------------


def test_the_queue_index_always_matches_the_requests_state(rt: Runtime, clock: Clock) -> None:
    """80 seeded random steps; after each, every queue (whole and by facet) read from
    the index equals the order `domain.queue` derives from each request's stored state."""
    import random

    from chalicelib.domain.queue import queue_label, queue_position
    from chalicelib.errors import DomainError

    rng = random.Random(15)
    made: list[str] = []
    labels = ["outage", "paid_admin", "consultation", "out_of_scope"]

    def step(n: int) -> None:
        clock.now = at(n * 7)
        action = rng.choice(["ticket", "mail", "answer", "follow", "status", "sweep", "scope"])
        if action == "ticket" or not made:
            made.append(ticket(rt, rng.choice([ANNA, BORIS])))
        elif action == "mail":
            made.append(email(rt, sender=rng.choice(["a@x.example", "b@y.example"])))
        target = rng.choice(made)
        owner = rt.store.tickets.get(target)
        assert owner is not None
        who = ANNA if owner.customer == ANNA.sub else BORIS
        try:
            if action == "answer":
                rt.desk.respond(AGENT, target, f"answer {n}")
            elif action == "follow" and owner.official:
                rt.cabinet.add_message(who, target, f"still broken {n}")
            elif action == "status":
                actor = rng.choice([AGENT, who])
                status = rng.choice(["open", "solved", "closed"])
                rt.lifecycle.set_status(actor, target, status)  # type: ignore[arg-type]
            elif action == "sweep":
                rt.sweeper.run(clock.now)
            elif action == "scope":
                correction = parse_scope_correction({"label": rng.choice(labels)})
                rt.desk.correct_scope(AGENT, target, correction)
        except DomainError:
            pass  # a forbidden move: nothing changed

    for n in range(80):
        step(n)
        stored = [r for r in (rt.store.tickets.get(i) for i in made) if r is not None]
        waiting = sorted((f"{p}#{r.id}", r) for r in stored if (p := queue_position(r)) is not None)
        assert queue(rt, 7) == [r.id for _, r in waiting], f"step {n}"
        for label in labels:
            expected = [r.id for _, r in waiting if queue_label(r) == label]
            assert queue(rt, 100, label=label) == expected, f"step {n}, {label}"
        expected = [r.id for _, r in waiting if r.channel == "email"]
        assert queue(rt, 100, channel="email") == expected, f"step {n}"


def test_reindex_puts_requests_stored_before_the_indexes_in_them(rt: Runtime) -> None:
    """An upgrade: requests written without queue or lookup keys, then `reindex`."""
    tid, rid = ticket(rt), email(rt)
    client = boto3.client("dynamodb", region_name="eu-central-1")
    table = os.environ["SUPPORT_TABLE_NAME"]
    for request_id in (tid, rid):
        key = {"PK": {"S": f"REQ#{request_id}"}, "SK": {"S": "META"}}
        client.update_item(TableName=table, Key=key, UpdateExpression="REMOVE QPK, QSK, LPK, LSK")
        items = client.query(
            TableName=table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :at)",
            ExpressionAttributeValues={":pk": {"S": f"REQ#{request_id}"}, ":at": {"S": "@"}},
        )["Items"]
        for item in items:
            client.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
    assert queue(rt) == [] and queue(rt, channel="email") == []
    gauges = client.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "STATS"}},
    )["Items"]
    for item in gauges:  # a table from before issue 29 kept one gauge, not one per shard
        client.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
    assert rt.store.deadlines.open_count() == 0
    seen: list[int] = []
    assert rt.store.tickets.reindex(seen.append) == 2  # type: ignore[attr-defined]
    assert seen and seen[-1] == 2  # progress after each page (issue 28)
    assert rt.store.tickets.reindex() == 2  # type: ignore[attr-defined]  # again: the same
    assert queue(rt) == [tid, rid] and queue(rt, channel="email") == [rid]
    assert rt.store.deadlines.open_count() == 1  # the official one, counted again
    assert rt.sweeper.run().open_official == 1  # read with the shards
    found = rt.desk.lookup(AGENT, 10, None, Contact(domain="shop.example")).items
    assert [t.id for t in found] == [rid]
