"""Every identifier the system makes. Ticket ids are short enough to read out and to put
in a subject tag; record ids of e-mail and chat are derived from their source, so a
redelivered input finds the record it already made."""

from __future__ import annotations

import hashlib
import re
import secrets

# Crockford base32: no I, L, O, U, so ids survive being read over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _random(length: int) -> str:
    """`length` characters of the alphabet, each equally likely: five random bits each,
    drawn from the system in one call (a choice per character drew twice per character
    on average, each a system call: 38 of them for a new ticket's two ids)."""
    bits = secrets.randbits(5 * length)
    return "".join(_ALPHABET[(bits >> (5 * i)) & 31] for i in range(length))


def new_ticket_id() -> str:
    """`T-` and 7 characters: 34 bits, collisions caught by a conditional write."""
    return "T-" + _random(7)


def _keyed(prefix: str, length: int, *parts: str) -> str:
    """An id of our alphabet derived from `parts`: the same parts, the same id."""
    digest = int.from_bytes(hashlib.sha256("\n".join(parts).encode()).digest()[:8], "big")
    return prefix + "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(length))


def keyed_ticket_id(customer: str, key: str) -> str:
    """The ticket id a customer's Idempotency-Key names: a retry after a lost response
    finds the ticket its first attempt made, even if the idempotency record did not."""
    return _keyed("T-", 7, customer, key)


def keyed_message_id(author: str, request_id: str, key: str) -> str:
    """The id of the message an author's Idempotency-Key names on a request."""
    return _keyed("M-", 12, author, request_id, key)


def new_message_id() -> str:
    return "M-" + _random(12)


def new_macro_id() -> str:
    return "K-" + _random(10)


MACRO_ID = re.compile(r"K-[0-9A-Z]{10}")


def new_quote_id() -> str:
    return "Q-" + _random(10)


def new_incident_id() -> str:
    return "I-" + _random(10)


def new_attachment_id() -> str:
    return "A-" + _random(12)


def new_event_id() -> str:
    return "E-" + _random(12)


# A request id as it appears in a subject tag `[#T-XXXXXXX]` or in our Message-IDs.
REQUEST_ID = r"(?:T|E|C)-[0-9A-Z]{5,12}"
_REQUEST_ID = re.compile(REQUEST_ID)


def is_request_id(value: str) -> bool:
    """Whether `value` has the shape of an id this system makes (anything else is unknown)."""
    return len(value) <= 14 and _REQUEST_ID.fullmatch(value) is not None


SUBJECT_TAG = re.compile(r"\[#(" + REQUEST_ID + r")\]")
OUR_MESSAGE_ID = re.compile(r"^(?:ack\.|reply-)(" + REQUEST_ID + r")[.@]")


def mail_ticket_id(bucket: str, key: str) -> str:
    """`E-` and 10 hex characters of the S3 object's hash."""
    return "E-" + hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:10].upper()


def chat_ticket_id(channel: str, transcript_id: str) -> str:
    """`C-` and 10 hex characters of the channel and the platform's transcript id."""
    return "C-" + hashlib.sha256(f"{channel}:{transcript_id}".encode()).hexdigest()[:10].upper()


def our_message_id(kind: str, record_id: str, domain: str) -> str:
    """A Message-ID of ours that names the request it belongs to, for threading."""
    return f"<{kind}.{record_id}.{secrets.token_hex(6)}@{domain}>"
