"""Opaque identifiers. Ticket ids are short enough to read out and to put in a subject tag."""

from __future__ import annotations

import secrets

# Crockford base32: no I, L, O, U, so ids survive being read over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_ticket_id() -> str:
    """`T-` and 7 characters: 34 bits, collisions caught by a conditional write."""
    return "T-" + _random(7)


def new_message_id() -> str:
    return "M-" + _random(12)


def new_event_id() -> str:
    return "E-" + _random(12)
