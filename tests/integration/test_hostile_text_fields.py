"""Every text field of every route, found by walking openapi.json, goes through the one
validation: a lone surrogate, a NUL or a bidi override is a 400 naming the field (never a
5xx, never stored as it came), and a single-line field never keeps a line break."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import CHAT_SECRET, ROOT, Api, make_token

ANNA = make_token("sub-anna", "anna@flowershop.example")
STAFF = make_token("sub-agent", "agent@hosting.example", ["staff"])
HOSTILE = {"lone surrogate": "a\ud800b", "NUL": "a\x00b", "bidi override": "a\u202eb"}
FORBIDDEN = ("\x00", "\ud800", "\u202e")
# Fields that name one thing on one line: a line break there is never kept.
SINGLE_LINE = {"subject", "title", "name", "server", "reference", "domain", "id"}


def _schemas() -> dict[str, Any]:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return document


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_text(schema: dict[str, Any]) -> bool:
    def kinds(option: dict[str, Any]) -> list[Any]:
        kind = option.get("type")
        return kind if isinstance(kind, list) else [kind]

    return any("string" in kinds(o) for o in [schema, *schema.get("oneOf", [])])


def text_fields() -> list[tuple[str, str, str]]:
    """(operationId, field, where) for every string property of every JSON body."""
    document = _schemas()
    found = []
    for operations in document["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            content = operation["requestBody"]["content"].get("application/json", {})
            schema = _resolve(content.get("schema", {}), document)
            for name, prop in schema.get("properties", {}).items():
                prop = _resolve(prop, document)
                if _is_text(prop):
                    found.append((operation["operationId"], name, "body"))
                if prop.get("type") == "array":
                    items = _resolve(prop.get("items", {}), document)
                    for inner, inner_prop in items.get("properties", {}).items():
                        if _is_text(_resolve(inner_prop, document)):
                            found.append((operation["operationId"], f"{name}[].{inner}", "body"))
    return found


def _future(hours: int) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _transcript() -> dict[str, Any]:
    return {
        "id": "conv-hostile",
        "channel": "chat",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:10:00+03:00",
        "customer_email": "olga@kofeinya.example",
        "messages": [{"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": "Тариф?"}],
    }


MACRO = {"title": "t", "lang": "ru", "text": "t"}


class World:
    """A ticket, a quote and an incident to aim the bodies at."""

    def __init__(self, api: Api) -> None:
        self.api = api
        body = {"subject": "Нужна настройка", "text": "Установите Ubuntu 22.04 на сервер 4242"}
        _, ticket, _ = api.call("POST", "/tickets", token=ANNA, body=body)
        self.ticket = ticket["id"]
        terms = {"scope": "Настройка", "deadline": "2030-01-10", "price": "100", "currency": "RUB"}
        _, quote, _ = api.call("POST", f"/tickets/{self.ticket}/quotes", token=STAFF, body=terms)
        self.quote = quote["id"]
        incident = {"kind": "incident", "services": ["mysql"], "title": "MySQL", "message": "m"}
        _, made, _ = api.call("POST", "/staff/incidents", token=STAFF, body=incident)
        self.incident = made["id"]
        _, macro, _ = api.call("POST", "/staff/macros", token=STAFF, body=MACRO)
        self.macro = macro["id"]
        api.call("POST", f"/tickets/{self.ticket}/quotes/{self.quote}/accept", token=ANNA)

    def request(self, operation: str, field: str = "") -> tuple[str, str, str, dict[str, Any]]:
        """(method, path, token, a valid body) for each operation with a JSON body; a quote
        step is the action that takes `field`."""
        t, q = self.ticket, self.quote
        if operation == "quoteStep":
            action, body = {
                "reason": ("refuse", {"reason": "r"}),
                "reference": ("payments", {"amount": "1", "currency": "RUB", "reference": "r"}),
                "amount": ("payments", {"amount": "1", "currency": "RUB"}),
            }.get(field, ("revise", {field: "2030-01-11" if field == "deadline" else "7"}))
            return "POST", f"/tickets/{t}/quotes/{q}/{action}", STAFF, body
        return {
            "createTicket": ("POST", "/tickets", ANNA, {"subject": "s", "text": "t"}),
            "postMessage": ("POST", f"/tickets/{t}/messages", ANNA, {"text": "t"}),
            "postResponse": ("POST", f"/tickets/{t}/responses", STAFF, {"text": "t"}),
            "postNote": ("POST", f"/tickets/{t}/notes", STAFF, {"text": "t"}),
            "createMacro": ("POST", "/staff/macros", STAFF, MACRO),
            "changeMacro": ("PUT", f"/staff/macros/{self.macro}", STAFF, MACRO),
            "putAssignee": ("PUT", f"/tickets/{t}/assignee", STAFF, {"assignee": "me"}),
            "postDelayNotice": (
                "POST",
                f"/tickets/{t}/delay-notices",
                STAFF,
                {"reason": "r", "eta": _future(3)},
            ),
            "correctScope": ("PUT", f"/tickets/{t}/scope", STAFF, {"label": "consultation"}),
            "postTranscript": ("POST", "/chat/transcripts", "", _transcript()),
            "setStatus": ("PUT", f"/tickets/{t}/status", STAFF, {"status": "open"}),
            "announceAttachment": (
                "POST",
                f"/tickets/{t}/attachments",
                ANNA,
                {"name": "a.png", "content_type": "image/png", "size": 10},
            ),
            "createIncident": (
                "POST",
                "/staff/incidents",
                STAFF,
                {"kind": "incident", "services": ["ftp"], "title": "FTP", "message": "m"},
            ),
            "postIncidentUpdate": (
                "POST",
                f"/staff/incidents/{self.incident}/updates",
                STAFF,
                {"message": "m"},
            ),
            "linkIncident": ("PUT", f"/tickets/{t}/incident", STAFF, {"incident": None}),
            "rateTicket": ("POST", f"/tickets/{t}/rating", ANNA, {"score": "good"}),
            "rateByLink": ("POST", "/ratings/not-a-link", "", {"score": "good"}),
            "correctAdminRequest": (
                "PUT",
                f"/tickets/{t}/admin-request",
                STAFF,
                {"server": "4242"},
            ),
            "proposeQuote": (
                "POST",
                f"/tickets/{t}/quotes",
                STAFF,
                {"scope": "s", "deadline": "2030-01-10", "price": "5", "currency": "RUB"},
            ),
        }[operation]

    def send(self, operation: str, body: dict[str, Any], field: str = "") -> tuple[int, Any]:
        method, path, token, _ = self.request(operation, field)
        raw = json.dumps(body).encode()  # ASCII escapes: a lone surrogate travels as \ud800
        headers = {}
        if operation == "postTranscript":
            digest = hmac.new(CHAT_SECRET.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Signature"] = f"sha256={digest}"
        status, answer, _ = self.api.call(
            method, path, token=token or None, raw=raw, headers=headers
        )
        return status, answer


def _with(body: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    changed = json.loads(json.dumps(body))
    if "[]." in field:
        outer, inner = field.split("[].")
        changed[outer][0][inner] = value
    else:
        changed[field] = value
    return changed


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def test_the_walk_finds_the_fields_that_once_took_anything() -> None:
    found = {(op, field) for op, field, _ in text_fields()}
    assert ("correctAdminRequest", "server") in found
    assert ("postTranscript", "messages[].text") in found
    assert ("quoteStep", "reason") in found and ("quoteStep", "reference") in found


@pytest.mark.parametrize(("operation", "field", "where"), text_fields())
def test_every_text_field_refuses_hostile_text(
    world: World, operation: str, field: str, where: str
) -> None:
    _, _, _, valid = world.request(operation, field)
    for name, value in HOSTILE.items():
        status, answer = world.send(operation, _with(valid, field, value), field)
        assert status < 500, (operation, field, name, answer)
        if status < 400:
            stored = json.dumps(answer, ensure_ascii=False)
            assert not any(c in stored for c in FORBIDDEN), (operation, field, name)
        else:
            assert answer["error"]["code"], (operation, field, name)
    if field in SINGLE_LINE:
        status, answer = world.send(operation, _with(valid, field, "one\ntwo"), field)
        assert status < 500
        if status < 400 and isinstance(answer, dict):
            assert "one\ntwo" not in json.dumps(answer, ensure_ascii=False), (operation, field)


def test_a_lone_surrogate_as_a_server_is_a_400_not_a_500(world: World) -> None:
    status, answer = world.send("correctAdminRequest", {"server": "\ud800"})
    assert (status, answer["error"]["code"]) == (400, "invalid_server")
    status, answer = world.send("correctAdminRequest", {"server": "42\n42"})
    assert status == 200 and answer["admin_request"]["server"] == "42 42"
