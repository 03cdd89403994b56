"""Hostile input gets a precise 4xx reason, never a crash."""

import pytest

from chalicelib.errors import InvalidInput, PayloadTooLarge
from chalicelib.intake.cabinet import parse_new_ticket
from chalicelib.validation import limit_param, parse_json_object


def reason(call, *args) -> str:
    with pytest.raises((InvalidInput, PayloadTooLarge)) as caught:
        call(*args)
    return caught.value.code


def test_body_over_the_limit_is_413_before_parsing() -> None:
    assert reason(parse_json_object, b"{" + b" " * 100 + b"}", 64) == "body_too_large"


def test_json_that_is_not_an_object_is_refused() -> None:
    assert reason(parse_json_object, b'"text"', 1000) == "body_not_object"
    assert reason(parse_json_object, b"{", 1000) == "invalid_json"


def test_subject_is_one_line_and_trimmed() -> None:
    ticket = parse_new_ticket({"subject": "  Mail\n is   down ", "text": " text \r\n more "})
    assert ticket.subject == "Mail is down"
    assert ticket.text == "text \n more"


def test_unknown_fields_are_named_in_the_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_new_ticket({"subject": "s", "text": "t", "official": False, "customer": "x"})
    assert caught.value.code == "unknown_field"
    assert caught.value.details["fields"] == ["customer", "official"]


def test_control_characters_are_refused_but_tabs_and_newlines_are_kept() -> None:
    assert reason(parse_new_ticket, {"subject": "s", "text": "bell\x07"}) == "invalid_text"
    assert parse_new_ticket({"subject": "s", "text": "a\tb\nc"}).text == "a\tb\nc"


@pytest.mark.parametrize("domain", ["localhost", "-bad-.com", "a..b", "x" * 64 + ".com", "пример"])
def test_domain_must_be_a_domain_name(domain: str) -> None:
    assert reason(parse_new_ticket, {"subject": "s", "text": "t", "domain": domain}) == (
        "invalid_domain"
    )


def test_domain_is_stored_lower_case_in_idna_form() -> None:
    ticket = parse_new_ticket({"subject": "s", "text": "t", "domain": "Shop.Example.COM."})
    assert ticket.domain == "shop.example.com"


@pytest.mark.parametrize("raw", ["0", "101", "-1", "1.5", "ten"])
def test_limit_outside_1_to_100_is_refused(raw: str) -> None:
    assert reason(limit_param, raw) == "invalid_limit"


def test_limit_defaults_to_20() -> None:
    assert limit_param(None) == 20
    assert limit_param("100") == 100


# -- issue 13: hostile input that used to reach a 5xx ----------------------------------

from chalicelib.http import instant_param, request_id  # noqa: E402
from chalicelib.intake.chat import parse_transcript  # noqa: E402
from chalicelib.staff.forms import parse_delay_notice_request  # noqa: E402
from chalicelib.storage.keys import (  # noqa: E402
    CONTACT_POSITION,
    CUSTOMER_POSITION,
    QUEUE_POSITION,
    decode_position_token,
)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"subject": "s\ud800", "text": "t"}, "invalid_subject"),
        ({"subject": "s", "text": "lone \udc00 surrogate"}, "invalid_text"),
        ({"subject": "\u200b\u200b\u2060", "text": "t"}, "subject_required"),
        ({"subject": "invoice \u202etxt.exe", "text": "t"}, "invalid_subject"),
        ({"subject": "s", "text": "\u2066isolated\u2069"}, "invalid_text"),
        ({"subject": "s\x00", "text": "t"}, "invalid_subject"),
    ],
)
def test_surrogates_bidi_overrides_nul_and_invisible_only_text_are_refused(
    body: dict, code: str
) -> None:
    assert reason(parse_new_ticket, body) == code


def test_a_delay_reason_with_control_characters_or_surrogates_is_refused() -> None:
    eta = "2026-11-25T10:00:00+03:00"
    assert reason(parse_delay_notice_request, {"reason": "disk\x00", "eta": eta}) == (
        "invalid_reason"
    )
    assert reason(parse_delay_notice_request, {"reason": "\ud800", "eta": eta}) == (
        "invalid_reason"
    )


def test_json_nested_ten_thousand_deep_is_400_not_a_recursion_error() -> None:
    deep = b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert reason(parse_json_object, deep, 1_000_000) == "invalid_json"


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1900-01-01T00:00:00Z"]
)
def test_instants_at_the_edges_of_the_calendar_are_400(when: str) -> None:
    assert reason(instant_param, when) == "invalid_at"
    assert reason(parse_delay_notice_request, {"reason": "r", "eta": when}) == "invalid_eta"
    chat = {
        "id": "c-1",
        "channel": "chat",
        "started_at": when,
        "ended_at": when,
        "messages": [{"from": "customer", "at": when, "text": "hi"}],
    }
    assert reason(parse_transcript, chat) == "invalid_started_at"


@pytest.mark.parametrize("raw", ["²", "١٢", "00000000001", "1e3"])
def test_limits_that_are_digits_but_not_ascii_numbers_are_400(raw: str) -> None:
    assert reason(limit_param, raw) == "invalid_limit"


@pytest.mark.parametrize("value", ["T-" + "A" * 3000, "../etc", "T-abc", "X-1234567", ""])
def test_path_ids_of_another_shape_are_unknown(value: str) -> None:
    from chalicelib.errors import NotFound

    with pytest.raises(NotFound):
        request_id(value)


def test_huge_or_hand_made_page_tokens_are_400() -> None:
    import base64
    import json

    huge = base64.urlsafe_b64encode(json.dumps({"q": "x" * 5000 + "#T-ABCDE"}).encode()).decode()
    forged = base64.urlsafe_b64encode(json.dumps({"q": "y" * 900 + "#T-ABCDE"}).encode()).decode()
    queue = base64.urlsafe_b64encode(json.dumps({"q": "9#" + "z" * 90}).encode()).decode()
    meta = "2026-12-01T10:00:00.000+00:00#T-ABCDE|@Q#CH"  # not a lookup position
    contact = base64.urlsafe_b64encode(json.dumps({"q": meta}).encode()).decode()
    for token in (huge, forged):
        assert reason(decode_position_token, token, CUSTOMER_POSITION) == "invalid_next"
    assert reason(decode_position_token, queue, QUEUE_POSITION) == "invalid_next"
    assert reason(decode_position_token, contact, CONTACT_POSITION) == "invalid_next"
