"""Test wiring. Powertools reads its variables at import, so they are set before `app`."""

from __future__ import annotations

import base64
import functools
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# moto's account and region; the fixture checks the topics it creates get these ARNs.
TOPIC_PREFIX = "arn:aws:sns:eu-central-1:123456789012:"
CHAT_SECRET = "test-chat-webhook-secret"
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "POWERTOOLS_SERVICE_NAME": "support-intake",
        "POWERTOOLS_METRICS_NAMESPACE": "SupportIntakeTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",  # so every log call is formatted under test
        "SUPPORT_TABLE_NAME": "support-intake-test",
        "ESCALATION_TOPIC_ARN": f"{TOPIC_PREFIX}support-intake-escalations-local",
        "MANAGEMENT_TOPIC_ARN": f"{TOPIC_PREFIX}support-intake-management-local",
        "CHAT_SECRET_NAME": "support-intake/chat-webhook-local",
        "USER_POOL_ID": "set-by-the-aws-fixture",
        "MAIL_BUCKET": "support-intake-mail-local",
        # The local stage's origins, read from the same config the local stack uses.
        "CORS_ORIGINS": json.loads(
            (Path(__file__).parents[1] / ".chalice" / "config.json").read_text()
        )["stages"]["local"]["environment_variables"]["CORS_ORIGINS"],
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from devtools import moto_fixes  # noqa: E402

moto_fixes.apply()


def make_token(
    sub: str, email: str | None = None, groups: Any = None, name: str | None = None
) -> str:
    """An unsigned ID token of the shape Cognito issues (chalice's local gateway decodes it)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {"sub": sub, "cognito:username": email or sub, "token_use": "id"}
    if email:
        claims["email"] = email
    if groups is not None:
        claims["cognito:groups"] = groups
    if name is not None:
        claims["name"] = name
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto with the tables built from infrastructure/resources.json."""
    from tests.reliability.harness import moto_stack

    with moto_stack(secret=CHAT_SECRET) as dynamodb:
        yield dynamodb


def register(email: str, *, verified: bool = True) -> str:
    """A cabinet account in the test user pool; returns its `sub`. `verified=False` is an
    address its holder typed but never confirmed (R1.7)."""
    import boto3

    cognito = boto3.client("cognito-idp", region_name="eu-central-1")
    user = cognito.admin_create_user(
        UserPoolId=os.environ["USER_POOL_ID"],
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true" if verified else "false"},
        ],
        MessageAction="SUPPRESS",
    )["User"]
    return str(next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub"))


class Notices:
    """Everything published to the escalation and management topics, via an SQS queue."""

    def __init__(self) -> None:
        import boto3

        self.sqs = boto3.client("sqs", region_name="eu-central-1")
        sns = boto3.client("sns", region_name="eu-central-1")
        self.url = self.sqs.create_queue(QueueName="notices-test")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for topic in ("ESCALATION_TOPIC_ARN", "MANAGEMENT_TOPIC_ARN"):
            sns.subscribe(TopicArn=os.environ[topic], Protocol="sqs", Endpoint=arn)
        self.seen: list[dict[str, Any]] = []
        self.mails: list[dict[str, Any]] = []  # the SNS envelopes: Subject, Message

    def all(self, kind: str | None = None) -> list[dict[str, Any]]:
        from chalicelib.outbound.notify import notice_of

        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(notice_of(message["Body"]))
                self.mails.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [n for n in self.seen if kind is None or n["kind"] == kind]


@pytest.fixture
def notices(aws: Any) -> Notices:
    return Notices()


@pytest.fixture
def client(aws: Any) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


@functools.cache
def openapi() -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(ROOT / "openapi.json"))


def conforms_to_openapi(method: str, path: str, headers: dict[str, str], response: Any) -> None:
    """Every response an integration test sees must match openapi.json (API.md): its
    status is documented for the route and its body validates against the schema."""
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.testing import MockRequest, MockResponse

    route, _, query = path.partition("?")
    request = MockRequest(
        "http://localhost",
        method.lower(),
        route,
        args=dict(urllib.parse.parse_qsl(query)),
        headers=headers,
    )
    content_type = str(response.headers.get("Content-Type", "application/json")).split(";")[0]
    served = MockResponse(
        response.body or b"",
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=content_type,
    )
    try:
        openapi().validate_response(request, served)
    except (PathNotFound, OperationNotFound):
        return  # a route the API does not have: the test is probing an unknown one
    except Exception as error:
        raise AssertionError(
            f"{method} {path} -> {response.status_code} does not match openapi.json: {error!r}"
            f"\n{(response.body or b'')[:500]!r}"
        ) from error


class Api:
    """Small helper over chalice's test client speaking JSON with a customer's token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = token
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=payload)
        text = response.body.decode() if response.body else ""
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        conforms_to_openapi(method, path, sent, response)
        return response.status_code, json.loads(text) if text else None, headers_out


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly how many browser tests did not run, and why (README, Testing)."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "tests/browser" in str(getattr(report, "nodeid", ""))
    ]
    if skipped:
        reason = str(skipped[0].longrepr[-1]) if isinstance(skipped[0].longrepr, tuple) else ""
        terminalreporter.write_line(
            f"{len(skipped)} browser tests skipped: {reason.removeprefix('Skipped: ')}",
            yellow=True,
            bold=True,
        )
