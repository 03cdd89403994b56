"""Hostile-input checks shared by every HTTP door: size, JSON shape, fields, text."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import InvalidInput, PayloadTooLarge

# C0/C1 controls other than tab, line feed and carriage return; they have no place in
# a support request and break terminals, logs and e-mail headers downstream. Bidi
# overrides and isolates (U+202A-202E, U+2066-2069) reorder what staff read (a subject
# that displays one thing and says another); lone surrogates cannot be stored or sent.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Invisible characters that alone make no text: zero-width space, joiners, word joiner,
# byte order mark, soft hyphen.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def parse_json_object(raw: bytes | None, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object, or a 4xx saying precisely what is wrong with it."""
    if raw is None or raw == b"":
        raise InvalidInput("body_required", "a JSON object body is required")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            "body_too_large", f"the body is over {max_bytes} bytes", limit=max_bytes
        )
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("invalid_encoding", "the body must be UTF-8") from None
    except ValueError as err:
        raise InvalidInput("invalid_json", f"the body is not valid JSON: {err}") from None
    except RecursionError:
        raise InvalidInput("invalid_json", "the body nests too deeply") from None
    if not isinstance(body, dict):
        raise InvalidInput("body_not_object", "the body must be a JSON object")
    return body


def reject_unknown_fields(body: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput(
            "unknown_field",
            f"unknown field(s): {', '.join(unknown)}",
            fields=unknown,
        )


def text_field(
    body: dict[str, Any],
    name: str,
    *,
    max_chars: int,
    single_line: bool = False,
    required: bool = True,
) -> str | None:
    """A trimmed, NFC-normalised string of 1..max_chars characters."""
    return clean_text(
        body.get(name), name, max_chars=max_chars, single_line=single_line, required=required
    )


def clean_text(
    value: object,
    name: str,
    *,
    max_chars: int,
    single_line: bool = False,
    required: bool = True,
) -> str | None:
    """`value` as text a person wrote, or InvalidInput naming the field and the rule."""
    if value is None:
        if required:
            raise InvalidInput(f"{name}_required", f"`{name}` is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"invalid_{name}", f"`{name}` must be a string", field=name)
    if _CONTROL.search(value):
        raise InvalidInput(f"invalid_{name}", f"`{name}` contains control characters", field=name)
    text = unicodedata.normalize("NFC", value)
    # A subject is one line; a text keeps its lines but not Windows line ends.
    text = " ".join(text.split()) if single_line else text.replace("\r\n", "\n").strip()
    if not text.strip(_INVISIBLE + " \n\t"):
        if required:
            raise InvalidInput(f"{name}_required", f"`{name}` must not be empty", field=name)
        return None
    if len(text) > max_chars:
        raise InvalidInput(
            f"{name}_too_long",
            f"`{name}` is longer than {max_chars} characters",
            field=name,
            limit=max_chars,
        )
    return text


def domain_field(body: dict[str, Any], name: str = "domain") -> str | None:
    """An optional domain name, returned lower-case in its ASCII (IDNA) form."""
    value = text_field(body, name, max_chars=253, single_line=True, required=False)
    if value is None:
        return None
    candidate = value.lower().rstrip(".")
    try:
        ascii_form = candidate.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_form = ""
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(x) for x in labels):
        raise InvalidInput("invalid_domain", f"`{name}` is not a domain name", field=name)
    return ascii_form


def choice_field(body: dict[str, Any], name: str, choices: Iterable[str]) -> str | None:
    allowed = tuple(choices)
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise InvalidInput(
            f"invalid_{name}",
            f"`{name}` must be one of: {', '.join(allowed)}",
            field=name,
            allowed=list(allowed),
        )
    return value.strip().lower()


def limit_param(raw: str | None, *, default: int = 20, maximum: int = 100) -> int:
    if raw is None or raw == "":
        return default
    # isdigit() is true for "²" and other digits int() refuses: ASCII only.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= maximum:
        raise InvalidInput(
            "invalid_limit", f"`limit` must be a whole number from 1 to {maximum}", field="limit"
        )
    return int(raw)


IDEMPOTENCY_KEY_MAX = 255


def idempotency_key(raw: str | None) -> str | None:
    """An `Idempotency-Key` header: 1-255 printable ASCII characters, or absent."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= IDEMPOTENCY_KEY_MAX or not raw.isprintable() or not raw.isascii():
        raise InvalidInput(
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters",
        )
    return raw
