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
