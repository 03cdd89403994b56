"""Header values from raw bytes: RFC 2047 words, raw 8-bit text, and the sender's address.

Everything here works on a value already cut to a budget, in one pass: a header of
50 MB or 200,000 encoded words costs no more than its first few kilobytes.
"""

from __future__ import annotations

import binascii
import re

from chalicelib.intake.mail.charsets import b64_or_none, decode_bytes
from chalicelib.values import frozen

DECODE_BUDGET = 8_192  # raw bytes of one header value that are ever decoded
MAX_HEADER_CHARS = 2_000  # characters kept of a decoded value
_ENCODED_WORD = re.compile(rb"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_ADDR_SPEC = re.compile(r"[^\s@<>()\[\],;:\\\"]+@[^\s@<>()\[\],;:\\\"]+")
_ROUTE = re.compile(r"^(?:@[^,:]*,?)+:")
# Space separators that are not ASCII (ideographic, no-break): part of names and subjects.
_WIDE_SPACES = frozenset(
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
_UNESCAPE = re.compile(r"\\(.)")


def unfold(raw: bytes) -> bytes:
    """The value as one line, cut to the decode budget at a word boundary (an encoded
    word cut in half would show as raw `=?utf-8?...`)."""
    if len(raw) > DECODE_BUDGET:
        cut = raw[:DECODE_BUDGET]
        space = max(cut.rfind(b" "), cut.rfind(b"\t"), cut.rfind(b"\n"))
        raw = cut[:space] if space > DECODE_BUDGET // 2 else cut
    return _FOLD.sub(b"", raw)


def decode_header_value(raw: bytes | str | None, hint: str | None = None) -> str:
    """A header as one line of text: encoded words decoded, raw 8-bit through the chain."""
    if raw is None:
        return ""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    return clean(decode_words(unfold(data), hint))


def decode_words(data: bytes, hint: str | None = None) -> str:
    """RFC 2047: adjacent encoded words of one charset are joined before decoding (a
    character may be split between them); white space between encoded words is dropped."""
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(bytes(pending), pending_charset, hint))
        pending, pending_charset = bytearray(), None

    after_word = False
    for match in _ENCODED_WORD.finditer(data):
        between = data[position : match.start()]
        if not (after_word and not between.strip()):
            flush()
            if between:
                out.append(decode_bytes(between, None, hint))
        charset = match.group(1).decode("ascii", "replace")
        payload = _word_payload(match.group(2), match.group(3))
        if payload is None:
            flush()
            out.append(match.group(0).decode("ascii", "replace"))
        else:
            if pending and charset.lower() != (pending_charset or "").lower():
                flush()
            pending_charset = charset
            pending += payload
        after_word = payload is not None
        position = match.end()
    flush()
    if position < len(data):
        out.append(decode_bytes(data[position:], None, hint))
    return "".join(out)


def _word_payload(encoding: bytes, text: bytes) -> bytes | None:
    if encoding in (b"B", b"b"):
        return b64_or_none(text)
    try:
        return _QP_ESCAPE.sub(lambda m: binascii.unhexlify(m.group(1)), text.replace(b"_", b" "))
    except (binascii.Error, ValueError):
        return None


def clean(text: str, limit: int = MAX_HEADER_CHARS) -> str:
    """One line, printable characters only, runs of white space folded, bounded."""
    text = _SPACES.sub(" ", text[: limit * 4]).strip()
    return "".join(ch for ch in text if ch.isprintable() or ch in _WIDE_SPACES)[:limit]


@frozen
class Sender:
    address: str | None  # lower-cased addr-spec of the single mailbox, else None
    name: str
    problem: str | None  # why there is no trustworthy address, or a spoofing sign


def parse_from(values: list[bytes], hint: str | None = None) -> Sender:
    """The sender from the raw `From` header(s): only the address part counts.

    A display name is never read as an address (`victim@x <attacker@y>` is attacker@y),
    and several mailboxes, or an address only inside an encoded word, give no sender.
    """
    if not values:
        return Sender(None, "", "no_from")
    mailboxes: list[tuple[str, str]] = []
    problem: str | None = None
    for value in values:
        text = unfold(value).decode("utf-8", "surrogateescape")
        if text.count('"') % 2:
            text = text.replace('"', "")  # an unterminated quote would swallow the address
        loose: list[str] = []  # address-less pieces: a raw name with a comma in it
        for element in _split_mailboxes(text):
            address, phrase = _mailbox(element)
            name = decode_header_value(_UNESCAPE.sub(r"\1", phrase.strip().strip('"')), hint)
            if address is None:
                if "@" in name and "=?" in element:
                    problem = "address_in_encoded_word"
                if name:
                    loose.append(name)
                continue
            if "@" in name and address not in name.lower():
                problem = "address_in_display_name"
            mailboxes.append((address, ", ".join([*loose, name]) if name else ", ".join(loose)))
            loose = []
    addresses = {address for address, _ in mailboxes}
    if len(addresses) > 1:
        return Sender(None, mailboxes[0][1], "several_from_addresses")
    if not addresses:
        return Sender(None, "", problem or "no_from_address")
    address, name = mailboxes[0]
    return Sender(address, name, problem)


def _split_mailboxes(text: str) -> list[str]:
    """Top-level comma-separated elements; quotes, comments, angle brackets and encoded
    words are opaque (a comma inside any of them separates nothing)."""
    elements: list[str] = []
    current: list[str] = []
    depth = 0  # comment nesting
    quoted = angle = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and (quoted or depth) and i + 1 < n:
            current.append(text[i : i + 2])
            i += 2
            continue
        if quoted:
            quoted = ch != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth = 1
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "=" and text.startswith("=?", i):
            end = text.find("?=", i + 2)
            word_end = end + 2 if end != -1 and end - i < 200 else i + 1
            current.append(text[i:word_end])
            i = word_end
            continue
        elif ch in ",;" and not angle:
            elements.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    elements.append("".join(current))
    return [e for e in elements if e.strip()]


def _mailbox(element: str) -> tuple[str | None, str]:
    """(address, display phrase) of one element; the address only from `<...>` or a bare
    addr-spec, never from the phrase."""
    without_comments = _strip_comments(element)
    start = _unquoted_rfind(without_comments, "<")
    if start != -1:
        end = without_comments.find(">", start)
        inner = without_comments[start + 1 : end if end != -1 else None]
        phrase = without_comments[:start]
        return _valid(_ROUTE.sub("", inner.strip())), phrase
    bare = without_comments.strip()
    comment = element[len(element.split("(", 1)[0]) :].strip("() ") if "(" in element else ""
    if "=?" in bare:
        return None, bare
    address = _valid(bare.replace(" ", "") if bare.count("@") == 1 else bare)
    return address, comment if address else bare


def _valid(candidate: str) -> str | None:
    address = candidate.strip().lower()
    if address in ("mailer-daemon", "postmaster"):
        return address
    if "=?" in address or not _ADDR_SPEC.fullmatch(address):
        return None
    return address


def _strip_comments(text: str) -> str:
    out: list[str] = []
    depth = 0
    quoted = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and (quoted or depth):
            if not depth:
                out.append(text[i : i + 2])
            i += 2
            continue
        if depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == "(":
            depth = 1
        else:
            quoted = ch == '"'
            out.append(ch)
        i += 1
    return "".join(out)


def _unquoted_rfind(text: str, target: str) -> int:
    found = -1
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif ch == target and not quoted:
            found = i
    return found


_MSGID = re.compile(r"<([^<>\s]{1,250})>")


def message_ids(raw: bytes | None, keep_last: int = 50) -> list[str]:
    """The `<id>` values of Message-ID, In-Reply-To or References; the newest last."""
    if not raw:
        return []
    return _MSGID.findall(unfold(raw).decode("utf-8", "replace"))[-keep_last:]
