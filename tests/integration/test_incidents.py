"""Service status, maintenance and incidents on moto (issue 16, R3.3, API.md "Service
status"): correlation, one answer for all, one escalation for all, the public status."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.domain.identity import Principal
from chalicelib.domain.tickets import Scope
from chalicelib.errors import Forbidden, InvalidInput
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.adapter import Notification
from chalicelib.runtime import Runtime, build_runtime
from chalicelib.staff.queries import QueueFilter
from chalicelib.status.incident_forms import parse_new_incident, parse_update
from chalicelib.timeutil import to_iso
from tests.conftest import Api, Notices, make_token
from tests.fakes import FixedClock
from tests.samples import mail

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
AGENT = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}
DB_DOWN = "MySQL не отвечает, ошибка подключения к базе данных"
MYSQL = {
    "kind": "incident",
    "services": ["mysql"],
    "title": "MySQL на сервере web12",
    "message": "Сервер MySQL на web12 не отвечает, инженеры разбираются.",
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def rt(aws: Any, clock: FixedClock) -> Runtime:
    return build_runtime(Settings.from_env(os.environ), clock=clock)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(rt: Runtime, **overrides: Any) -> str:
    return rt.board.create(AGENT, parse_new_incident({**MYSQL, **overrides})).id


def ticket(rt: Runtime, text: str = DB_DOWN) -> dict[str, Any]:
    body, _ = rt.cabinet.create_ticket(ANNA, NewTicket(subject="База данных", text=text), None)
    return body


def email(rt: Runtime, **kw: str) -> str:
    key = f"raw/{uuid.uuid4().hex}"
    bucket = os.environ["MAIL_BUCKET"]
    boto3.client("s3", region_name="eu-central-1").put_object(
        Bucket=bucket, Key=key, Body=mail(sender="olga@shop.example", **kw)
    )
    return rt.mail.process(Notification(bucket, key, "olga@shop.example", PASS)).record_id


def sent_mail(aws: Any) -> list[str]:
    """The text of every mail moto's SES accepted, decoded as a mail client would."""
    from email import message_from_string
    from email.policy import default

    from moto.backends import get_backend

    backend = get_backend("ses")["123456789012"]["eu-central-1"]
    texts = []
    for sent in backend.sent_messages:
        parsed = message_from_string(sent.raw_data, policy=default)
        body = parsed.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        texts.append(f"{parsed['Subject']}\n{body.get_content() if body else ''}")
    return texts


def test_a_ticket_and_a_mail_about_the_database_are_linked_and_told_the_update(
    rt: Runtime, aws: Any
) -> None:
    iid = incident(rt)
    made = ticket(rt)
    assert made["incident"] == iid
    notice = made["status_notice"]["incident"]
    assert notice["id"] == iid and "инженеры разбираются" in notice["latest_update"]["message"]
    rid = email(
        rt, subject="Database down", body="Error establishing a database connection, MySQL is down"
    )
    assert rt.store.tickets.get(rid).incident == iid  # type: ignore[union-attr]
    [ack] = [m for m in sent_mail(aws) if rid in m]
    assert "Known issue" in ack and "MySQL" in ack
    unrelated = ticket(rt, text="Как сменить тариф хостинга?")
    assert unrelated["incident"] is None and "status_notice" not in unrelated
    assert rt.board.get(AGENT, iid).linked == 2


def test_status_shows_mysql_in_outage_until_it_is_resolved(
    rt: Runtime, api: Api, clock: FixedClock
) -> None:
    iid = incident(rt)
    code, status, _ = api.call("GET", "/status")
    assert code == 200 and status["services"]["mysql"] == "outage"
    assert status["services"]["ftp"] == "operational"
    assert [i["id"] for i in status["incidents"]] == [iid]
    clock.now = at(10)
    rt.board.post_update(
        AGENT,
        iid,
        parse_update({"message": "Перезапущен, следим.", "state": "monitoring"}, "incident"),
    )
    assert api.call("GET", "/status")[1]["services"]["mysql"] == "degraded"
    clock.now = at(20)
    rt.board.post_update(
        AGENT, iid, parse_update({"message": "Работает.", "state": "resolved"}, "incident")
    )
    code, status, _ = api.call("GET", "/status")
    assert status["services"]["mysql"] == "operational" and status["incidents"] == []
    feed = rt.board.feed("http://localhost/status/feed", "http://localhost/status")
    root = ElementTree.fromstring(feed)  # noqa: S314 (our own document)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert len(root.findall("a:entry", ns)) == 3
    assert root.find("a:entry/a:title", ns).text.endswith("resolved")  # type: ignore[union-attr]


def test_thirty_linked_breaches_escalate_once(rt: Runtime, notices: Notices) -> None:
    iid = incident(rt)
    tickets = [ticket(rt)["id"] for _ in range(30)]
    unlinked = ticket(rt, text="Как сменить тариф хостинга?")["id"]
    report = rt.sweeper.run(at(61))
    assert sorted(report.breached) == sorted([*tickets, unlinked])
    [grouped] = notices.all("incident_breach")
    assert grouped["incident"] == iid and grouped["breached_requests"] == 30
    assert grouped["oldest_waiting_since"] == T0.isoformat(timespec="milliseconds")
    assert [n["ticket_id"] for n in notices.all("sla_breach")] == [unlinked]
    rt.sweeper.run(at(62))
    assert len(notices.all("incident_breach")) == 1


def test_one_update_answers_all_thirty_once_even_when_the_fan_out_is_cut_and_rerun(
    rt: Runtime, clock: FixedClock, notices: Notices
) -> None:
    iid = incident(rt)
    tickets = [ticket(rt)["id"] for _ in range(30)]
    clock.now = at(20)
    real_respond = rt.desk.respond
    calls = {"n": 0}

    def failing_after_seven(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 8:
            raise ConnectionError("the Lambda ran out of time here")
        return real_respond(*args, **kwargs)

    rt.desk.respond = failing_after_seven  # type: ignore[method-assign]
    body = {"message": "Причина найдена, восстанавливаем.", "state": "identified", "notify": True}
    rt.board.post_update(AGENT, iid, parse_update(body, "incident"))
    answered = [t for t in tickets if rt.store.tickets.get(t).sla.state == "met"]  # type: ignore[union-attr]
    assert 7 <= len(answered) < 30  # cut at the eighth (the page's others go on meanwhile)
    rt.desk.respond = real_respond  # type: ignore[method-assign]
    rt.sweeper.run(at(25))  # the sweep drains the outbox: the job resumes
    rt.sweeper.run(at(26))
    for tid in tickets:
        thread = rt.store.tickets.thread(tid)
        assert thread is not None
        staff = [m for m in thread.messages if m.author == "staff"]
        assert len(staff) == 1 and "Причина найдена" in staff[0].text
        assert thread.ticket.sla.state == "met"  # type: ignore[union-attr]
        assert thread.ticket.status == "answered"
    assert rt.sweeper.run(at(61)).breached == [] and notices.all("incident_breach") == []


def test_a_long_fan_out_continues_in_the_next_entry_when_its_time_is_up(rt: Runtime) -> None:
    from chalicelib.status import fanout

    iid = incident(rt)
    tickets = [ticket(rt)["id"] for _ in range(30)]
    notifier = fanout.IncidentNotifier(
        rt.store.incidents, rt.desk, rt.board.dispatcher._clock, budget_seconds=0
    )  # type: ignore[union-attr]
    rt.dispatcher.register("incident_notify", notifier.send)
    rt.board.post_update(
        AGENT, iid, parse_update({"message": "Update", "notify": True}, "incident")
    )
    # budget 0: one page (25) per entry; the next page is owed as a new entry
    owed = [e for e in rt.store.outbox.due("9999", 100) if e.kind == "incident_notify"]
    assert len(owed) == 1 and owed[0].payload["after"]
    rt.sweeper.run(at(1))
    assert all(rt.store.tickets.get(t).status == "answered" for t in tickets)  # type: ignore[union-attr]


def test_scheduled_maintenance_moves_through_its_states_on_time(rt: Runtime, api: Api) -> None:
    window = {
        "kind": "maintenance",
        "services": ["email", "panel"],
        "title": "Обновление почтовых серверов",
        "message": "Почта может быть недоступна до 15 минут.",
        "starts_at": at(120).isoformat(),
        "ends_at": at(180).isoformat(),
    }
    mid = incident(rt, **window)
    status = api.call("GET", "/status")[1]
    assert [m["id"] for m in status["maintenance"]] == [mid]
    assert status["maintenance"][0]["state"] == "scheduled"
    assert status["services"]["email"] == "operational"
    asked = ticket(rt, text="Будут ли плановые работы на сервере на этой неделе?")
    assert [m["id"] for m in asked["status_notice"]["maintenance"]] == [mid]
    rt.sweeper.run(at(119))
    assert rt.board.get(AGENT, mid).state == "scheduled"
    rt.sweeper.run(at(120))
    assert rt.board.get(AGENT, mid).state == "in_progress"
    assert api.call("GET", "/status")[1]["services"]["email"] == "maintenance"
    rt.sweeper.run(at(181))
    done = rt.board.get(AGENT, mid)
    assert done.state == "completed" and [u.state for u in done.updates] == [
        "scheduled",
        "in_progress",
        "completed",
    ]
    assert api.call("GET", "/status")[1]["maintenance"] == []


def test_a_window_moves_by_its_own_outbox_entries_and_reindex_owes_older_ones(
    rt: Runtime,
) -> None:
    """Issue 29: a maintenance window owes its start and end to the outbox when it is
    created, so no sweep reads the incidents to find them. A window from before (no
    entries) does not move until `reindex` owes them (`board.clock_windows`)."""
    window = {
        "kind": "maintenance",
        "services": ["email"],
        "title": "Перенос почты",
        "message": "Почта переезжает на новые серверы.",
        "starts_at": at(30).isoformat(),
        "ends_at": at(90).isoformat(),
    }
    mid = incident(rt, **window)
    client = boto3.client("dynamodb", region_name="eu-central-1")
    table = os.environ["SUPPORT_TABLE_NAME"]
    owed = [
        item
        for shard in range(4)
        for item in client.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"OUTBOX#{shard}"}},
        )["Items"]
    ]
    assert sorted(i["SK"]["S"].split("#", 1)[0] for i in owed) == [to_iso(at(30)), to_iso(at(90))]
    for item in owed:  # a window created before its clock was owed with it
        client.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
    rt.sweeper.run(at(31))
    assert rt.board.get(AGENT, mid).state == "scheduled"
    assert rt.board.clock_windows() == 2
    rt.sweeper.run(at(32))
    assert rt.board.get(AGENT, mid).state == "in_progress"
    assert rt.board.clock_windows() == 1  # only its end is still to come
    rt.sweeper.run(at(91))
    assert [u.state for u in rt.board.get(AGENT, mid).updates] == [
        "scheduled",
        "in_progress",
        "completed",
    ]
    assert rt.board.clock_windows() == 0


def test_a_window_staff_closed_early_or_that_began_at_once_is_left_as_staff_left_it(
    rt: Runtime,
) -> None:
    """The clock moves a window only forward from where it stands: a window completed by
    staff before its end stays completed when its end comes; one created already running
    owes only its end."""
    window = {
        "kind": "maintenance",
        "services": ["ftp"],
        "title": "FTP",
        "message": "FTP недоступен.",
        "starts_at": at(-5).isoformat(),
        "ends_at": at(60).isoformat(),
    }
    mid = incident(rt, **window)
    assert rt.board.get(AGENT, mid).state == "in_progress"
    assert rt.board.clock_windows() == 1  # its end only
    done = parse_update({"message": "Готово раньше.", "state": "completed"}, "maintenance")
    rt.board.post_update(AGENT, mid, done)
    rt.sweeper.run(at(61))
    finished = rt.board.get(AGENT, mid)
    assert finished.state == "completed" and len(finished.updates) == 2


def test_customers_cannot_create_or_change_incidents(rt: Runtime, api: Api) -> None:
    iid = incident(rt)
    customer = make_token("sub-anna", "anna@flowershop.example")
    code, body, _ = api.call("POST", "/staff/incidents", token=customer, body=MYSQL)
    assert (code, body["error"]["code"]) == (403, "staff_only")
    update = {"message": "Всё починили", "state": "resolved"}
    code, body, _ = api.call("POST", f"/staff/incidents/{iid}/updates", token=customer, body=update)
    assert code == 403
    assert api.call("GET", "/staff/incidents", token=customer)[0] == 403
    tid = ticket(rt)["id"]
    code, _, _ = api.call(
        "PUT", f"/tickets/{tid}/incident", token=customer, body={"incident": None}
    )
    assert code == 403
    with pytest.raises(Forbidden):
        rt.board.create(ANNA, parse_new_incident(MYSQL))
    assert rt.board.get(AGENT, iid).state == "investigating"


def test_staff_link_and_unlink_by_hand_and_the_queue_groups_linked_requests(
    rt: Runtime, clock: FixedClock
) -> None:
    iid = incident(rt)
    linked = ticket(rt)["id"]
    other = ticket(rt, text="Как сменить тариф хостинга?")["id"]
    clock.now = at(1)
    rt.board.link(AGENT, other, {"incident": iid})
    page = rt.desk.queue(AGENT, 10, None, QueueFilter())
    assert page["items"] == []
    [group] = page["incidents"]
    assert group["incident"]["id"] == iid and group["count"] == 2
    assert {r["id"] for r in group["requests"]} == {linked, other}
    clock.now = at(2)
    rt.board.link(AGENT, other, {"incident": None})
    assert rt.store.tickets.get(other).incident is None  # type: ignore[union-attr]
    assert rt.board.get(AGENT, iid).linked == 1
    events = [e.action for e in rt.store.tickets.audit_trail(other)]
    assert events[-2:] == ["incident_linked", "incident_unlinked"]
    with pytest.raises(InvalidInput):
        rt.board.link(AGENT, other, {"incident": 42})


def test_incident_routes_over_http(api: Api) -> None:
    staff = make_token("sub-agent", "agent@hosting.example", ["staff"])
    code, made, headers = api.call("POST", "/staff/incidents", token=staff, body=MYSQL)
    assert code == 201 and made["state"] == "investigating" and made["linked"] == 0
    assert headers["location"].endswith(f"/staff/incidents/{made['id']}")
    path = f"/staff/incidents/{made['id']}/updates"
    code, body, _ = api.call("POST", path, token=staff, body={"message": "x", "state": "scheduled"})
    assert (code, body["error"]["code"]) == (400, "invalid_state")
    code, body, _ = api.call(
        "POST", path, token=staff, body={"message": "Нашли", "state": "identified"}
    )
    assert code == 201 and body["state"] == "identified"
    code, listing, _ = api.call("GET", "/staff/incidents", token=staff)
    assert [i["id"] for i in listing["items"]] == [made["id"]]
    bad = {**MYSQL, "services": ["coffee"]}
    assert (
        api.call("POST", "/staff/incidents", token=staff, body=bad)[1]["error"]["code"]
        == "invalid_services"
    )
    window = {**MYSQL, "kind": "maintenance"}
    assert (
        api.call("POST", "/staff/incidents", token=staff, body=window)[1]["error"]["code"]
        == "window_required"
    )
    assert api.call("GET", "/staff/incidents/I-NOPE", token=staff)[0] == 404
    response = api.client.http.get("/status/feed")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    ElementTree.fromstring(response.body)  # noqa: S314 (our own document)


def test_an_incident_links_the_open_requests_about_it_from_the_window_before_it(
    rt: Runtime, clock: FixedClock
) -> None:
    """API.md: `link_window_minutes` (two hours unless said): open requests about its
    services received that long before it are linked when it opens."""
    clock.now = at(-180)
    too_old = ticket(rt)["id"]
    clock.now = at(-90)
    recent = ticket(rt)["id"]
    elsewhere = ticket(rt, text="Почта не работает, письма не уходят")["id"]
    clock.now = at(0)
    iid = incident(rt)
    assert rt.store.tickets.get(recent).incident == iid  # type: ignore[union-attr]
    assert rt.store.tickets.get(too_old).incident is None  # type: ignore[union-attr]
    assert rt.store.tickets.get(elsewhere).incident is None  # type: ignore[union-attr]
    assert rt.board.get(AGENT, iid).linked == 1
    none_before = incident(rt, services=["ftp"], link_window_minutes=0)
    assert rt.board.get(AGENT, none_before).linked == 0


def test_a_request_a_second_after_an_incident_opened_is_linked_in_a_warm_process(
    rt: Runtime, clock: FixedClock
) -> None:
    """A process that read its list of incidents just before one opened elsewhere still
    links the next request about it (its list is read again when nothing matches)."""
    warm = build_runtime(Settings.from_env(os.environ), clock=clock)
    assert warm.board.match(Scope("outage", "mysql")) is None  # holds "no incidents"
    iid = incident(rt)  # opened by another process, a moment later
    assert warm.board.match(Scope("outage", "mysql")) == iid


def test_staff_link_requests_in_bulk_over_http(api: Api) -> None:
    token = make_token("sub-agent", "agent@hosting.example", ["staff"])
    customer = make_token("sub-anna", "anna@flowershop.example")
    _, made, _ = api.call(
        "POST", "/staff/incidents", token=token, body={**MYSQL, "link_window_minutes": 0}
    )
    ids = []
    for text in ("Как сменить тариф?", "Где счёт за ноябрь?"):
        _, created, _ = api.call(
            "POST", "/tickets", token=customer, body={"subject": "s", "text": text}
        )
        ids.append(created["id"])
    path = f"/staff/incidents/{made['id']}/links"
    status, body, _ = api.call("POST", path, token=token, body={"requests": [*ids, ids[0]]})
    assert status == 200 and body == {"linked": 2}
    status, body, _ = api.call("POST", path, token=token, body={"requests": ids})
    assert status == 200 and body == {"linked": 0}  # linked already
    assert api.call("POST", path, token=customer, body={"requests": ids})[0] == 403
    assert api.call("POST", path, token=token, body={"requests": []})[0] == 400
    status, _, _ = api.call("POST", path, token=token, body={"requests": ["T-NOPE123"]})
    assert status == 404


def test_the_status_page_for_browsers_json_for_the_rest_and_linked_requests(api: Api) -> None:
    """API.md: `GET /status` answers a browser (its Accept prefers text/html) with the
    HTML page, everyone else with JSON; the feed's links are absolute (RFC 4287) and lead
    to that page; staff list an incident's linked requests as queue lines (R3.3)."""
    staff = make_token("sub-agent", "agent@hosting.example", ["staff"])
    anna = make_token("sub-anna", "anna@example.com", [])
    code, made, _ = api.call(
        "POST", "/tickets", token=anna, body={"subject": "БД", "text": DB_DOWN}
    )
    assert code == 201
    _, opened, _ = api.call("POST", "/staff/incidents", token=staff, body=MYSQL)
    assert opened["linked"] == 1
    code, linked, _ = api.call("GET", f"/staff/incidents/{opened['id']}/requests", token=staff)
    assert code == 200 and [i["id"] for i in linked["items"]] == [made["id"]]
    assert "text" not in linked["items"][0]  # queue lines are slim
    assert api.call("GET", f"/staff/incidents/{opened['id']}/requests", token=anna)[0] == 403
    assert api.call("GET", "/staff/incidents/I-NOPE1234/requests", token=staff)[0] == 404

    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = api.client.http.get("/status", headers={"Accept": browser, "Host": "status.test"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.body.decode()
    assert MYSQL["title"] in text and "Не работает" in text and "Outage" in text
    assert 'href="http://status.test/status/feed"' in text
    policy = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "script-src" not in policy
    for accept in ("*/*", "application/json", "text/html;q=0.5, application/json"):
        code, status, headers = api.call("GET", "/status", headers={"Accept": accept})
        assert code == 200 and status["services"]["mysql"] == "outage"
        assert headers["content-type"].startswith("application/json")

    feed = api.client.http.get("/status/feed", headers={"Host": "status.test"})
    root = ElementTree.fromstring(feed.body)  # noqa: S314 (our own document)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = {link.get("rel"): link.get("href") for link in root.findall("a:link", ns)}
    assert links == {
        "self": "http://status.test/status/feed",
        "alternate": "http://status.test/status",
    }
    entry_links = [link.get("href") for link in root.findall("a:entry/a:link", ns)]
    assert entry_links and all(h == "http://status.test/status" for h in entry_links)


def test_an_update_to_ten_linked_requests_costs_at_most_three_calls_each(
    rt: Runtime, clock: FixedClock
) -> None:
    """Issue 29: the fan-out answers each linked request with its answer's transaction
    and the send; the account's profile is read once for its ten requests, and the
    deliveries are settled together, not one by one."""
    from tests.integration.test_calls_per_operation import counted

    iid = incident(rt)
    tickets = [ticket(rt)["id"] for _ in range(10)]
    clock.now = at(5)
    warm = rt.board.create(AGENT, parse_new_incident({**MYSQL, "services": ["ftp"]})).id
    rt.board.post_update(AGENT, warm, parse_update({"message": "warm", "notify": True}, "incident"))
    body = {"message": "Причина найдена, восстанавливаем.", "state": "identified", "notify": True}
    with counted() as calls:
        rt.board.post_update(AGENT, iid, parse_update(body, "incident"))
    assert all(rt.store.tickets.get(t).status == "answered" for t in tickets)  # type: ignore[union-attr]
    print(dict(calls), sum(calls.values()))
    assert sum(calls.values()) <= 3 * len(tickets) + 6, calls
