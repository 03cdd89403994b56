"""Working as a team (API.md, issue 26) through the HTTP API on moto: who the customer
is, who answered, assignment, internal notes, collisions, and what a customer never
sees of any of it."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from tests.conftest import Api, make_token
from tests.integration.test_outbound_mail import sent_mails

ANNA = make_token("sub-anna", "anna@flowershop.example", name="Anna Petrova")
BORIS = make_token("sub-boris", "boris@example.com")
AGENT = make_token("sub-agent", "olga@hosting.example", ["staff"], name="Olga")
OTHER = make_token("sub-other", "ivan@hosting.example", ["staff"], name="Ivan")


def ticket(api: Api, text: str = "Сайт отдаёт 502 с утра") -> str:
    status, made, _ = api.call(
        "POST", "/tickets", token=ANNA, body={"subject": "Сайт не работает", "text": text}
    )
    assert status == 201
    return str(made["id"])


def thread(api: Api, rid: str, token: str) -> dict[str, Any]:
    status, body, _ = api.call("GET", f"/tickets/{rid}", token=token)
    assert status == 200
    return dict(body)


def queue(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, page, _ = api.call("GET", f"/staff/queue{query}", token=AGENT)
    assert status == 200
    return [*page["items"], *(r for g in page["incidents"] for r in g["requests"])]


def test_staff_see_who_the_customer_is_on_the_request_and_in_the_queue(api: Api) -> None:
    rid = ticket(api)
    staff_view = thread(api, rid, AGENT)
    assert staff_view["customer_email"] == "anna@flowershop.example"
    assert staff_view["customer_name"] == "Anna Petrova"
    [item] = [i for i in queue(api) if i["id"] == rid]
    assert item["customer_email"] == "anna@flowershop.example"
    assert item["customer_name"] == "Anna Petrova"
    assert item["last_message_by"] == "customer" and item["attachment_count"] == 0
    assert "text" not in item and "evidence" not in item["scope"]  # a slim line
    customer_view = thread(api, rid, ANNA)
    assert "customer_email" not in customer_view and "assignee" not in customer_view


def test_a_staff_answer_says_who_wrote_it_and_a_customer_sees_the_name_only(api: Api) -> None:
    rid = ticket(api)
    status, answer, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "Смотрим"}
    )
    assert status == 201
    assert answer["by"] == {"id": "sub-agent", "name": "Olga", "email": "olga@hosting.example"}
    [seen_by_customer] = thread(api, rid, ANNA)["messages"]
    assert seen_by_customer["by"] == {"name": "Olga"}
    assert "olga@hosting.example" not in json.dumps(thread(api, rid, ANNA))
    _, events, _ = api.call("GET", f"/tickets/{rid}/events", token=AGENT)
    answered = [e for e in events["items"] if e["kind"] == "staff_response"]
    assert answered[0]["by"]["name"] == "Olga"


def test_assignment_to_me_to_nobody_and_the_queue_by_assignee(api: Api) -> None:
    mine, theirs = ticket(api), ticket(api, "Почта не уходит")
    status, body, _ = api.call(
        "PUT", f"/tickets/{mine}/assignee", token=AGENT, body={"assignee": "me"}
    )
    assert status == 200 and body["assignee"] == {"id": "sub-agent", "name": "Olga"}
    assert [i["id"] for i in queue(api, "?assignee=me")] == [mine]
    assert theirs in [i["id"] for i in queue(api, "?assignee=none")]
    assert mine not in [i["id"] for i in queue(api, "?assignee=none")]
    status, body, _ = api.call(
        "PUT", f"/tickets/{mine}/assignee", token=AGENT, body={"assignee": None}
    )
    assert status == 200 and body["assignee"] is None
    assert queue(api, "?assignee=me") == []
    _, events, _ = api.call("GET", f"/tickets/{mine}/events", token=AGENT)
    moves = [e["details"] for e in events["items"] if e["kind"] == "assigned"]
    assert moves == [{"from": None, "to": "sub-agent"}, {"from": "sub-agent", "to": None}]


def test_an_answer_to_an_unassigned_request_assigns_it_to_its_author(api: Api) -> None:
    rid = ticket(api)
    api.call("POST", f"/tickets/{rid}/responses", token=OTHER, body={"text": "Сейчас"})
    assert thread(api, rid, AGENT)["assignee"] == {"id": "sub-other", "name": "Ivan"}
    api.call("POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "И я"})
    assert thread(api, rid, AGENT)["assignee"]["id"] == "sub-other"  # an owner stays


def test_an_internal_note_is_for_staff_only_never_mailed_and_no_answer(api: Api) -> None:
    rid = ticket(api)
    before = len(sent_mails())
    status, note, _ = api.call(
        "POST", f"/tickets/{rid}/notes", token=AGENT, body={"text": "Клиент VIP, звонить"}
    )
    assert status == 201 and note["kind"] == "note" and note["by"]["name"] == "Olga"
    staff_view = thread(api, rid, AGENT)
    assert [m["kind"] for m in staff_view["messages"]] == ["note"]
    assert staff_view["sla"]["state"] == "pending"  # the clock keeps running
    assert staff_view["status"] == "open" and staff_view["message_count"] == 0
    customer_view = thread(api, rid, ANNA)
    assert customer_view["messages"] == [] and "VIP" not in json.dumps(customer_view)
    assert len(sent_mails()) == before
    assert rid in [i["id"] for i in queue(api)]  # still waiting for an answer


def test_an_answer_to_a_conversation_that_moved_on_is_refused_with_what_was_missed(
    api: Api,
) -> None:
    rid = ticket(api)
    api.call("POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "Какой домен?"})
    seen = thread(api, rid, AGENT)["messages"][-1]["id"]
    api.call("POST", f"/tickets/{rid}/messages", token=ANNA, body={"text": "flowershop.example"})
    status, body, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "Ждём", "seen": seen}
    )
    assert status == 409 and body["error"]["code"] == "conversation_changed"
    assert [m["text"] for m in body["missed"]] == ["flowershop.example"]
    newest = thread(api, rid, AGENT)["messages"][-1]["id"]
    status, _, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "Готово", "seen": newest}
    )
    assert status == 201


def test_another_agents_answer_after_what_i_saw_is_a_collision(api: Api) -> None:
    rid = ticket(api)
    api.call("POST", f"/tickets/{rid}/responses", token=OTHER, body={"text": "Уже отвечаю"})
    status, body, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "Я тоже", "seen": rid}
    )
    assert status == 409 and body["missed"][0]["by"]["name"] == "Ivan"
    status, body, _ = api.call(
        "POST", f"/tickets/{rid}/responses", token=AGENT, body={"text": "x", "seen": "M-NOPE"}
    )
    assert status == 400 and body["error"]["code"] == "unknown_seen"


def test_a_customer_reaches_no_team_route(api: Api) -> None:
    rid = ticket(api)
    for method, path, body in (
        ("POST", f"/tickets/{rid}/notes", {"text": "hi"}),
        ("PUT", f"/tickets/{rid}/assignee", {"assignee": "me"}),
        ("GET", "/staff/queue?assignee=me", None),
    ):
        status, answer, _ = api.call(method, path, token=ANNA, body=body)
        assert status == 403 and answer["error"]["code"] == "staff_only", path
    assert api.call("GET", f"/tickets/{rid}", token=BORIS)[0] == 404


def test_assigning_someone_unknown_is_404_and_a_bad_body_400(api: Api) -> None:
    rid = ticket(api)
    status, body, _ = api.call(
        "PUT", f"/tickets/{rid}/assignee", token=AGENT, body={"assignee": "sub-nobody"}
    )
    assert status == 404 and body["error"]["code"] == "staff_not_found"
    for bad in ({}, {"assignee": 7}, {"assignee": "me", "x": 1}):
        assert api.call("PUT", f"/tickets/{rid}/assignee", token=AGENT, body=bad)[0] == 400


def test_staff_see_why_an_address_is_suppressed_and_lift_it(api: Api) -> None:
    from app import runtime

    store = runtime().store
    store.markers.suppress("anna@flowershop.example", "bounce", "2026-12-01T10:00:00+00:00")
    status, found, _ = api.call(
        "GET", "/staff/suppressions?email=Anna@FlowerShop.example", token=AGENT
    )
    assert status == 200
    assert found["items"] == [
        {"email": "anna@flowershop.example", "reason": "bounce", "at": "2026-12-01T10:00:00+00:00"}
    ]
    path = "/staff/suppressions/anna%40flowershop.example"
    assert api.call("DELETE", path, token=ANNA)[0] == 403
    assert api.call("DELETE", path, token=AGENT)[0] == 204
    assert store.markers.suppression("anna@flowershop.example") is None
    assert api.call("DELETE", path, token=AGENT)[0] == 404
    _, found, _ = api.call("GET", "/staff/suppressions?email=anna@flowershop.example", token=AGENT)
    assert found["items"] == []
    assert api.call("GET", "/staff/suppressions?email=nope", token=AGENT)[0] == 400


def test_canned_replies_are_shared_and_filled_in_for_a_request(api: Api) -> None:
    body = {
        "title": "Проверили",
        "lang": "ru",
        "text": "Здравствуйте, {customer_name}! По заявке {request_id}:\n{kb_links}\n{hours} {x}",
    }
    status, macro, headers = api.call("POST", "/staff/macros", token=AGENT, body=body)
    assert status == 201 and headers["location"].endswith(f"/staff/macros/{macro['id']}")
    _, listing, _ = api.call("GET", "/staff/macros", token=OTHER)  # shared by the team
    assert [m["id"] for m in listing["items"]] == [macro["id"]]
    rid = ticket(api, "Не работает SSL-сертификат на сайте, браузер пишет ошибку")
    _, filled, _ = api.call("GET", f"/staff/macros?request={rid}", token=AGENT)
    text = filled["items"][0]["text"]
    assert text.startswith(f"Здравствуйте, Anna Petrova! По заявке {rid}:")
    assert "круглосуточно" in text and text.endswith("{x}")  # an unknown brace stays
    kb = thread(api, rid, AGENT)["kb"]
    assert all(a["url"] in text for a in kb)  # R2.3: the suggested pages as links
    changed = {**body, "title": "Проверили (en)", "lang": "en", "text": "Hi {customer_name}"}
    status, after, _ = api.call("PUT", f"/staff/macros/{macro['id']}", token=AGENT, body=changed)
    assert status == 200 and after["lang"] == "en"
    assert api.call("GET", "/staff/macros", token=ANNA)[0] == 403
    assert api.call("POST", "/staff/macros", token=ANNA, body=body)[0] == 403
    assert api.call("POST", "/staff/macros", token=AGENT, body={**body, "lang": "de"})[0] == 400
    assert api.call("GET", "/staff/macros?request=T-NOPE123", token=AGENT)[0] == 404
    assert api.call("DELETE", f"/staff/macros/{macro['id']}", token=AGENT)[0] == 204
    assert api.call("DELETE", f"/staff/macros/{macro['id']}", token=AGENT)[0] == 404


def search(api: Api, query: str, token: str = AGENT) -> tuple[int, Any]:
    status, body, _ = api.call("GET", f"/staff/search?{query}", token=token)
    return status, body


def test_search_finds_requests_by_any_word_form_id_address_and_domain(api: Api) -> None:
    mail = ticket(api, "Почта на домене не работает, письма не уходят")
    other = ticket(api, "Сайт отдаёт 502")
    status, body = search(api, "q=почты")  # another form of the word
    assert status == 200 and [i["id"] for i in body["items"]] == [mail]
    assert "text" not in body["items"][0]  # the queue's slim line
    assert [i["id"] for i in search(api, f"q={other.lower()}")[1]["items"]] == [other]
    by_address = {i["id"] for i in search(api, "q=anna@flowershop.example")[1]["items"]}
    assert {mail, other} <= by_address
    assert {mail, other} <= {i["id"] for i in search(api, "q=flowershop.example")[1]["items"]}
    assert search(api, "q=почта%20502")[1]["items"] == []  # every word must be there


def postings(term: str) -> list[str]:
    """The ids of the requests under a term's posting partition (`search_items`)."""
    client = boto3.client("dynamodb", region_name="eu-central-1")
    found = client.query(
        TableName=os.environ["SUPPORT_TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"S#{term}"}},
    )["Items"]
    return [i["id"]["S"] for i in found]


def test_an_id_and_an_address_are_found_without_a_posting(api: Api) -> None:
    """The request's own key and its place in `ByContact` find it (issue 29: two items
    fewer in each new ticket); a domain and a word with `@` in a text keep theirs."""
    first = ticket(api, "Пароль для @root@localhost не подходит")  # a handle, not an address
    made = [ticket(api, f"Ошибка базы данных номер {n}") for n in range(3)]
    for rid in (first, *made):
        assert postings(rid.lower()) == [] and postings("anna@flowershop.example") == []
    assert set(postings("flowershop.example")) == {first, *made}
    assert postings("root@localhost") == [first]  # a word of the text, found as one
    assert [i["id"] for i in search(api, "q=root@localhost")[1]["items"]] == [first]
    seen, token = [], ""
    while True:  # newest first, a request a page, every page from the address's partition
        status, page = search(api, f"q=anna@flowershop.example&limit=1{token}")
        assert status == 200 and len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        if page["next"] is None:
            break
        token = f"&next={page['next']}"
    assert seen == [*made[::-1], first]
    found = search(api, "q=anna@flowershop.example%20базы&limit=2")[1]
    assert [i["id"] for i in found["items"]] == made[:0:-1] and found["next"]
    assert [i["id"] for i in search(api, f"q={first}%20пароль")[1]["items"]] == [first]
    assert search(api, f"q={first}%20базы")[1]["items"] == []  # every term must be there
    assert search(api, f"q={made[0]}&status=closed")[1]["items"] == []  # and the filters
    assert search(api, "q=T-NOPE1234")[1]["items"] == []
    assert search(api, f"q={first}&next=forged")[0] == 400


def test_search_filters_and_pages_newest_first(api: Api) -> None:
    made = [ticket(api, f"Ошибка базы данных номер {n}") for n in range(3)]
    api.call("PUT", f"/tickets/{made[0]}/assignee", token=AGENT, body={"assignee": "me"})
    status, first = search(api, "q=базы&limit=2")
    assert status == 200 and [i["id"] for i in first["items"]] == made[:0:-1]
    _, rest = search(api, f"q=базы&limit=2&next={first['next']}")
    assert [i["id"] for i in rest["items"]] == [made[0]] and rest["next"] is None
    assert [i["id"] for i in search(api, "q=базы&assignee=me")[1]["items"]] == [made[0]]
    assert search(api, "q=базы&status=closed")[1]["items"] == []
    assert search(api, "q=базы&from=2099-01-01")[1]["items"] == []


def test_search_is_for_staff_and_refuses_what_it_cannot_search(api: Api) -> None:
    assert search(api, "q=почта", token=ANNA)[0] == 403
    for bad in ("q=", "q=a", "q=x&status=lost", "q=почта&from=yesterday"):
        status, body = search(api, bad)
        assert status == 400 and body["error"]["code"].startswith(("invalid_", "q_")), bad
