"""Inputs from outside that used to crash a handler (issue 13): each now gets a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.accounts import CognitoDirectory
from chalicelib.intake.chat_import import ChatImport
from tests.fakes import FakeBlobs


class RecordingCognito:
    def __init__(self) -> None:
        self.filters: list[str] = []

    def list_users(self, **params: Any) -> dict[str, Any]:
        self.filters.append(params["Filter"])
        return {"Users": []}


@pytest.mark.parametrize(
    "address", ['"x\\"y"@example.com', "a^=b@example.com", 'x"@example.com', "a b@example.com"]
)
def test_an_address_that_would_change_the_cognito_filter_is_never_looked_up(
    address: str,
) -> None:
    cognito = RecordingCognito()
    assert CognitoDirectory(cognito, "pool").find_by_email(address) is None
    assert cognito.filters == []


def test_a_plain_address_is_looked_up_exactly() -> None:
    cognito = RecordingCognito()
    CognitoDirectory(cognito, "pool").find_by_email("anna+shop@flowershop.example")
    assert cognito.filters == ['email = "anna+shop@flowershop.example"']


class NoChat:
    def record(self, transcript: Any) -> Any:
        raise AssertionError("nothing in these files is a transcript")


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"userId": "op", "conversations": 5}).encode(),
        json.dumps({"userId": "op", "conversations": [{"id": "1", "MessageList": 5}]}).encode(),
        b"[" * 50_000 + b"]" * 50_000,
        b'{"transcripts": 7}',
    ],
    ids=["conversations-5", "messagelist-5", "deep-nesting", "transcripts-7"],
)
def test_a_malformed_export_gets_a_report_not_a_crash(content: bytes) -> None:
    blobs = FakeBlobs()
    blobs.objects[("bucket", "imports/chat/bad.json")] = content
    report = ChatImport(blobs, NoChat()).process_object(  # type: ignore[arg-type]
        "bucket", "imports/chat/bad.json"
    )
    assert report.get("error") or report["transcripts"] == []
    stored = json.loads(blobs.objects[("bucket", "imports/reports/bad.json.report.json")])
    assert stored == report


def test_a_profile_is_read_once_a_minute_and_linking_is_never_remembered() -> None:
    """Issue 29: an incident's update answers ten requests of one customer with one
    read of the account; R1.7's lookup by address is made at the moment of linking."""
    cognito = RecordingCognito()
    now = [0.0]
    directory = CognitoDirectory(cognito, "pool", clock=lambda: now[0])
    for _ in range(10):
        directory.profile("sub-anna")
    assert cognito.filters == ['sub = "sub-anna"']
    now[0] = 61.0
    directory.profile("sub-anna")
    assert len(cognito.filters) == 2
    directory.find_by_email("anna@flowershop.example")
    directory.find_by_email("anna@flowershop.example")
    assert len(cognito.filters) == 4
