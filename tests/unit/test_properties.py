"""Property-based tests (hypothesis) on every parser of outside input: whatever arrives,
the answer is a value or a domain error with a reason, never a crash, and in bounded
time (hypothesis fails an example that takes over its deadline)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from chalicelib.classify import classify_request, label_catalogue
from chalicelib.errors import DomainError
from chalicelib.http import instant_param
from chalicelib.intake.cabinet import parse_new_ticket
from chalicelib.intake.chat import parse_transcript
from chalicelib.intake.chat_import import transcripts_from_export
from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.parse import parse_mail
from chalicelib.validation import parse_json_object

BOUNDED = settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Text with what breaks naive code: surrogates, NUL and other controls, bidi marks.
HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=3_000)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(HOSTILE_TEXT, inner, max_size=5),
    max_leaves=40,
)
HEADER = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "Return-Path",
        "MIME-Version",
        "From ",
    ]
)
MIME_PIECE = st.one_of(
    st.builds(lambda h, v: f"{h}: {v}\r\n", HEADER, HOSTILE_TEXT.map(lambda t: t[:200])),
    st.sampled_from(
        [
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n",
            "--b\r\nContent-Type: message/rfc822\r\n\r\n",
            "--b--\r\n",
            "=?utf-8?b?0J/RgNC40LLQtdGC?= =?koi8-r?q?=F0=D2?=",
            "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n",
            "\r\n",
            " continued\r\n",
            "\x00\xff",
        ]
    ),
)


@BOUNDED
@given(st.binary(max_size=20_000))
def test_any_bytes_parse_as_mail_without_raising(raw: bytes) -> None:
    mail = parse_mail(raw)
    machine_reason(mail)
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)


@BOUNDED
@given(st.lists(MIME_PIECE, max_size=60))
def test_mime_shaped_garbage_parses_without_raising(pieces: list[str]) -> None:
    raw = "".join(pieces).encode("utf-8", "surrogatepass")
    mail = parse_mail(raw)
    machine_reason(mail)


@BOUNDED
@given(JSONISH)
def test_any_transcript_body_is_a_transcript_or_a_reason(body: Any) -> None:
    try:
        parse_transcript(body if isinstance(body, dict) else {"body": body})
    except DomainError as error:
        assert error.status in (400, 413)


@BOUNDED
@given(JSONISH)
def test_any_export_file_is_transcripts_or_a_reason(data: Any) -> None:
    try:
        bodies = transcripts_from_export(data)
    except (ValueError, TypeError, KeyError):
        return
    assert isinstance(bodies, list)


@BOUNDED
@given(JSONISH)
def test_any_ticket_body_is_a_ticket_or_a_reason(body: Any) -> None:
    try:
        parse_new_ticket(body if isinstance(body, dict) else {"subject": body, "text": body})
    except DomainError as error:
        assert error.status == 400 and error.code


@BOUNDED
@given(st.binary(max_size=5_000) | JSONISH.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_a_json_object_or_a_reason(raw: bytes) -> None:
    try:
        assert isinstance(parse_json_object(raw, 64 * 1024), dict)
    except DomainError as error:
        assert error.status in (400, 413)


@BOUNDED
@given(HOSTILE_TEXT)
def test_any_at_parameter_is_an_instant_or_a_reason(raw: str) -> None:
    try:
        instant_param(raw)
    except DomainError as error:
        assert error.code == "invalid_at"


@BOUNDED
@given(HOSTILE_TEXT, HOSTILE_TEXT, st.sampled_from(["cabinet", "email", "chat", "skype"]))
def test_any_request_gets_one_label_of_the_catalogue(subject: str, text: str, channel: str) -> None:
    scope, kb = classify_request(subject, text, channel)
    assert scope.label in label_catalogue()
    assert len(kb) <= 3
