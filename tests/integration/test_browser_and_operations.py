"""The API as a browser on the cabinet's origin sees it, and what operations rely on (issue 11).

CORS on success and error alike, `Location` on every 201, bugs counted where handlers
catch them, and AWS's own setup notifications passed over instead of dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import observability as obs
from chalicelib.http import location
from chalicelib.intake.mail.handler import mail_batch
from tests.conftest import Api, make_token
from tests.integration.test_email_intake import PASS, mail as a_mail, record, sqs_record, store_raw

ORIGIN = "http://localhost:3000"  # the local stage's configured cabinet origin
ANNA = make_token("sub-anna", "anna@flowershop.example")
STAFF = make_token("sub-staff", "agent@hosting.example", ["staff"])
TICKET = {"subject": "FTP", "text": "FTP не подключается: 530 Login incorrect"}


def preflight(api: Api, path: str, origin: str = ORIGIN) -> tuple[int, Any, dict[str, str]]:
    return api.call(
        "OPTIONS",
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )


@pytest.mark.parametrize("path", ["/tickets", "/tickets/T-ABCDE/messages", "/staff/queue"])
def test_a_preflight_from_the_cabinet_allows_the_three_headers(api: Api, path: str) -> None:
    status, _, headers = preflight(api, path)
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "OPTIONS" in headers["access-control-allow-methods"]
    assert headers["vary"] == "Origin"


def test_a_preflight_from_another_origin_is_refused(api: Api) -> None:
    status, body, headers = preflight(api, "/tickets", origin="https://evil.example")
    assert status == 403 and body["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in headers


def test_success_and_error_responses_carry_cors_and_expose_location(api: Api) -> None:
    status, ticket, headers = api.call(
        "POST", "/tickets", token=ANNA, body=TICKET, headers={"Origin": ORIGIN}
    )
    assert status == 201
    assert headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip() for h in headers["access-control-expose-headers"].split(",")}
    assert exposed == {"Location", "Idempotent-Replayed"}
    assert headers["location"] == f"/tickets/{ticket['id']}"
    for method, path, token in (("GET", "/tickets", None), ("GET", "/staff/queue", ANNA)):
        status, body, headers = api.call(method, path, token=token, headers={"Origin": ORIGIN})
        assert status in (401, 403) and "error" in body
        assert headers["access-control-allow-origin"] == ORIGIN


def test_another_origin_gets_no_cors_grant(api: Api) -> None:
    _, _, headers = api.call("GET", "/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers


def test_every_201_carries_location(api: Api) -> None:
    _, ticket, _ = api.call("POST", "/tickets", token=ANNA, body=TICKET)
    path = f"/tickets/{ticket['id']}"
    status, _, headers = api.call("POST", f"{path}/messages", token=ANNA, body={"text": "ещё"})
    assert status == 201 and headers["location"] == path
    status, _, headers = api.call("POST", f"{path}/responses", token=STAFF, body={"text": "ok"})
    assert status == 201 and headers["location"] == path
    _, other, _ = api.call("POST", "/tickets", token=ANNA, body=TICKET)
    eta = "2099-01-01T00:00:00+00:00"
    status, _, headers = api.call(
        "POST",
        f"/tickets/{other['id']}/delay-notices",
        token=STAFF,
        body={"reason": "Ждём дата-центр", "eta": eta},
    )
    assert status == 201 and headers["location"] == f"/tickets/{other['id']}"


class FakeRequest:
    def __init__(self, path: str, resource: str, params: dict[str, str]) -> None:
        self.context = {"path": path, "resourcePath": resource}
        self.uri_params = params


@pytest.mark.parametrize(
    ("path", "resource", "params", "expected"),
    [
        ("/api/tickets", "/tickets", {}, "/api/tickets/T-1"),  # execute-api: stage in path
        (
            "/v1/tickets/T-1/messages",
            "/tickets/{ticket_id}/messages",
            {"ticket_id": "T-1"},
            "/v1/tickets/T-1",
        ),
        ("/tickets", "/tickets", {}, "/tickets/T-1"),  # chalice local, custom domain root
    ],
)
def test_location_keeps_the_base_path_the_caller_used(
    path: str, resource: str, params: dict[str, str], expected: str
) -> None:
    target = "/tickets/T-1"
    assert location(FakeRequest(path, resource, params), target) == expected  # type: ignore[arg-type]


def emitted(capsys: pytest.CaptureFixture[str], metric: str) -> list[dict[str, Any]]:
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    return [line for line in lines if metric in line]


def test_a_bug_behind_a_route_is_a_500_in_the_error_shape_and_counted(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.intake.cabinet import CabinetService

    def broken(*_: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(CabinetService, "list_tickets", broken)
    status, body, _ = api.call("GET", "/tickets", token=ANNA)
    assert status == 500 and body["error"]["code"] == "internal_error"
    # By where for the dashboard, and in total for the alarm (it watches `service` only).
    found = emitted(capsys, obs.UNHANDLED_ERRORS)
    assert sorted(m.get("where", "") for m in found) == ["", "api"]


def test_a_bug_in_the_mail_path_is_counted_and_retried(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import runtime

    def broken(*_: Any) -> Any:
        raise TypeError("bug")

    monkeypatch.setattr(runtime().pipeline, "_create", broken)
    record_ = sqs_record(
        "support-intake-mail-local", store_raw(a_mail()), source="a@b.example", verdicts=PASS
    )
    response = mail_batch({"Records": [record_]}, runtime().mail)
    assert response["batchItemFailures"] == [{"itemIdentifier": record_["messageId"]}]
    assert emitted(capsys, obs.UNHANDLED_ERRORS)[0]["where"] == "mail"


SES_SETUP = {
    "notificationType": "AmazonSnsSubscriptionSucceeded",
    "message": "You have successfully subscribed your Amazon SNS topic to receive "
    "'Received' notifications from Amazon SES.",
}


@pytest.mark.parametrize(
    "body",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b", "RequestId": "r"},
        {"Type": "Notification", "Message": json.dumps(SES_SETUP)},
        {
            "Type": "Notification",
            "Message": json.dumps(
                {
                    "notificationType": "Received",
                    "receipt": {
                        "action": {
                            "type": "S3",
                            "bucketName": "b",
                            "objectKey": "raw/AMAZON_SES_SETUP_NOTIFICATION",
                        }
                    },
                }
            ),
        },
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "s3": {
                        "bucket": {"name": "b"},
                        "object": {"key": "raw/AMAZON_SES_SETUP_NOTIFICATION"},
                    },
                }
            ]
        },
    ],
    ids=["s3-test-event", "ses-topic-confirmed", "ses-setup-object", "s3-setup-object"],
)
def test_setup_notifications_pass_instead_of_dead_lettering(aws: Any, body: dict) -> None:
    from app import runtime

    message = {**sqs_record("b", "k", source=None, verdicts=PASS), "body": json.dumps(body)}
    response = mail_batch({"Records": [message]}, runtime().mail)
    assert response == {"batchItemFailures": []}


def test_real_mail_next_to_a_setup_event_is_still_recorded(aws: Any) -> None:
    from app import runtime

    key = store_raw(a_mail())
    records = [
        {
            **sqs_record("b", "k", source=None, verdicts=PASS),
            "body": json.dumps({"Event": "s3:TestEvent"}),
        },
        sqs_record("support-intake-mail-local", key, source="a@b.example", verdicts=PASS),
    ]
    assert mail_batch({"Records": records}, runtime().mail) == {"batchItemFailures": []}
    assert record(key)["disposition"] == "advisory"
