"""Parse raw MIME defensively: every header read may raise in CPython's `email`.

Headers are read in the compat32 policy (raw strings, no exceptions on access) and
decoded here with fallbacks; bodies go through a charset chain for Cyrillic mail:
declared, UTF-8, then CP1251 or KOI8-R, whichever reads as Russian text.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from chalicelib.intake.mail.html_text import html_to_text

MAX_HEADER_CHARS = 2_000
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_CYR_LOWER = re.compile(r"[а-яё]")
_CYR_UPPER = re.compile(r"[А-ЯЁ]")
# A long run of base64 lines: a big attachment. It is cut out of the raw message before
# parsing and decoded straight from the raw bytes, because CPython's feed parser keeps
# such a body as one string per line and then joins and re-encodes it (8-9x the mail).
_BASE64_RUN = re.compile(rb"(?:[A-Za-z0-9+/=]{40,100}\r?\n){8192,}")
_BLOB_MARKER = b"\x00intake-blob:"


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)


@dataclass
class ParsedMail:
    from_addr: str | None
    from_name: str
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    return_path: str | None  # None: no header; "": the null sender <>
    content_type: str
    headers: dict[str, str]
    text: str
    attachments: list[Attachment]
    report_parts: list[str]  # content types of the top-level parts
    defects: list[str]


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """The charset chain: declared, UTF-8, then CP1251 or KOI8-R by which reads as Russian."""
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [data.decode("cp1251", errors="replace"), data.decode("koi8-r", errors="replace")]
    # KOI8-R lowercase letters are CP1251 capitals, and the other way round; Russian
    # prose is mostly lowercase, so the right reading has more lowercase letters.
    return max(
        candidates,
        key=lambda text: len(_CYR_LOWER.findall(text)) - len(_CYR_UPPER.findall(text)),
    )


def decode_header_value(raw: object) -> str:
    """An RFC 2047 header as text; undecodable pieces go through the charset chain."""
    if raw is None:
        return ""
    text = str(raw)
    try:
        pieces = decode_header(text)
    except Exception:
        return _clean(text)
    out = []
    for value, charset in pieces:
        if isinstance(value, bytes):
            out.append(decode_bytes(value, charset))
        else:
            out.append(value)
    # decode_header drops the whitespace between encoded and plain words inconsistently.
    joined = "".join(out) if any(isinstance(v, bytes) for v, _ in pieces) else text
    return _clean(joined)


def _clean(text: str) -> str:
    text = " ".join(text.replace("\r", " ").replace("\n", " ").split())
    return "".join(ch for ch in text if ch.isprintable())[:MAX_HEADER_CHARS]


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:
        return None
    return None if value is None else str(value)


def _message_ids(raw: str | None) -> list[str]:
    return _MSGID.findall(raw or "")[:50]


def _cut_blobs(raw: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """The message with its big base64 runs replaced by markers, and where they were."""
    spans = [m.span() for m in _BASE64_RUN.finditer(raw)]
    if not spans:
        return raw, []
    pieces, position = [], 0
    for number, (start, end) in enumerate(spans):
        pieces.append(raw[position:start])
        pieces.append(base64.b64encode(_BLOB_MARKER + str(number).encode()) + b"\r\n")
        position = end
    pieces.append(raw[position:])
    return b"".join(pieces), spans


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one message; never raises for malformed input (defects are recorded)."""
    skeleton, spans = _cut_blobs(raw)
    view = memoryview(raw)

    def blob(data: bytes) -> bytes:
        if spans and data.startswith(_BLOB_MARKER):
            number = int(data[len(_BLOB_MARKER) :] or b"0")
            start, end = spans[number]
            return binascii.a2b_base64(view[start:end])
        return data

    msg = email.message_from_bytes(skeleton, policy=email.policy.compat32)
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])]
    headers: dict[str, str] = {}
    try:
        items = msg.items()
    except Exception:
        items = []
        defects.append("unreadable_headers")
    for name, value in items:
        key = str(name).strip().lower()
        if key not in headers:
            headers[key] = decode_header_value(value)
    from_raw = _header(msg, "From") or ""
    try:
        name, address = parseaddr(decode_header_value(from_raw) if "=?" in from_raw else from_raw)
    except Exception:
        name, address = "", ""
        defects.append("unparsable_from")
    sender: str | None = address.strip().lower() or None
    if sender and "@" not in sender and sender not in ("mailer-daemon", "postmaster"):
        sender = None
    return_path = _header(msg, "Return-Path")
    if return_path is not None:
        found = getaddresses([return_path])
        return_path = found[0][1].strip().lower() if found else ""
    text, attachments, report_parts = _walk(msg, defects, blob)
    return ParsedMail(
        from_addr=sender,
        from_name=decode_header_value(name),
        subject=headers.get("subject", ""),
        message_id=next(iter(_message_ids(_header(msg, "Message-ID"))), None),
        in_reply_to=_message_ids(_header(msg, "In-Reply-To")),
        references=_message_ids(_header(msg, "References")),
        return_path=return_path,
        content_type=_content_type(msg),
        headers=headers,
        text=text,
        attachments=attachments,
        report_parts=report_parts,
        defects=defects,
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return decode_header_value(name) if name else None


def _is_attachment(part: Message) -> bool:
    disposition = (_header(part, "Content-Disposition") or "").lower()
    return disposition.startswith("attachment") or _filename(part) is not None


def _payload(part: Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        defects.append("undecodable_payload")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else b""


def _text_of(part: Message, defects: list[str]) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_bytes(_payload(part, defects), charset)
    return html_to_text(text) if _content_type(part) == "text/html" else text.strip()


def _walk(
    msg: Message, defects: list[str], blob: Callable[[bytes], bytes]
) -> tuple[str, list[Attachment], list[str]]:
    texts: list[str] = []
    attachments: list[Attachment] = []
    top_level: list[str] = []
    if msg.is_multipart():
        top_level = [_content_type(p) for p in _children(msg)]

    def visit(part: Message) -> None:
        ctype = _content_type(part)
        if ctype == "message/rfc822" or (ctype.startswith("message/") and _is_attachment(part)):
            # Forwarded mail is kept whole as an .eml attachment, never read as our headers.
            inner = part.get_payload()
            data = (
                inner[0].as_bytes()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message)
                else _payload(part, defects)
            )
            name = _filename(part) or f"forwarded-{len(attachments) + 1}.eml"
            attachments.append(_attachment(name, ctype, data))
            return
        if part.is_multipart():
            children = _children(part)
            if ctype == "multipart/alternative":
                plain = [c for c in children if _content_type(c) == "text/plain"]
                chosen = plain[0] if plain else children[-1]
                visit(chosen)
                for child in children:
                    if child is not chosen and _is_attachment(child):
                        visit(child)
                return
            for child in children:
                visit(child)
            return
        if _is_attachment(part) or not ctype.startswith("text/"):
            if ctype.startswith("message/") or ctype == "text/rfc822-headers":
                return  # delivery-status and feedback parts: machine detail, not content
            name = _filename(part) or f"attachment-{len(attachments) + 1}"
            attachments.append(_attachment(name, ctype, blob(_payload(part, defects))))
            return
        if ctype in ("text/plain", "text/html"):
            texts.append(_text_of(part, defects))

    visit(msg)
    return "\n\n".join(t for t in texts if t), attachments, top_level


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _attachment(name: str, content_type: str, data: bytes) -> Attachment:
    safe = re.sub(r"[\\/\x00-\x1f]", "_", name)[:200] or "attachment"
    return Attachment(safe, content_type, len(data), hashlib.sha256(data).hexdigest(), data)
