"""One raw message in, what the intake needs out; never raises, linear in the mail's size.

The structure comes from `mime` (byte ranges, bounded depth and parts), header values
from `headers` (RFC 2047 and raw 8-bit through the same charset chain as bodies), and the
sender only from the address part of `From`. Text is extracted up to a budget: the full
raw message is kept in S3, and the record holds a bounded excerpt anyway.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from chalicelib.intake.mail import mime
from chalicelib.intake.mail.charsets import decode_bytes
from chalicelib.intake.mail.headers import (
    MAX_HEADER_CHARS,
    decode_header_value,
    message_ids,
    parse_from,
)
from chalicelib.intake.mail.html_text import html_to_text
from chalicelib.values import frozen

__all__ = ["MAX_HEADER_CHARS", "Attachment", "ParsedMail", "decode_bytes", "parse_mail"]

TEXT_BYTES_BUDGET = 4 * 1024 * 1024  # raw bytes of one text part that are decoded
HTML_CHARS_BUDGET = 1_000_000  # characters of HTML converted to text
TEXT_CHARS_BUDGET = 1_000_000  # characters of extracted text in all
MAX_ATTACHMENTS = 1_000
_FILE_UNSAFE = re.compile(r"[\\/\x00-\x1f\x7f]")
_REPORT_DETAIL = frozenset({"text/rfc822-headers"})


@frozen
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)
    # Shown in the body rather than sent as a file: an unnamed part, or an image of an
    # HTML page (multipart/related). Kept all the same: a pasted screenshot is one.
    inline: bool = False


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
    sender_problem: str | None = None  # why From gives no trustworthy single address
    body_offset: int = 0  # where the top-level body starts in the raw message


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one message; never raises for malformed input (defects are recorded)."""
    tree = mime.parse_tree(raw)
    root = tree.root
    defects = list(tree.defects)
    hint = _message_charset(root)
    headers: dict[str, str] = {}
    for name, value in root.fields:
        if name not in headers:
            headers[name] = decode_header_value(value, hint)
    sender = parse_from(root.get_all("from"), hint)
    if sender.problem:
        defects.append(sender.problem)
    walker = _Walker(raw, defects, hint)
    walker.visit(root)
    return ParsedMail(
        from_addr=sender.address,
        from_name=sender.name,
        subject=headers.get("subject", ""),
        message_id=next(iter(message_ids(root.get("message-id"), keep_last=1)), None),
        in_reply_to=message_ids(root.get("in-reply-to")),
        references=message_ids(root.get("references")),
        return_path=_return_path(root.get("return-path")),
        content_type=root.content_type,
        headers=headers,
        text="\n\n".join(t for t in walker.texts if t)[:TEXT_CHARS_BUDGET],
        attachments=walker.attachments,
        report_parts=[c.content_type for c in root.children],
        defects=defects[:50],
        sender_problem=sender.problem,
        body_offset=root.start,
    )


def _return_path(value: bytes | None) -> str | None:
    """The bounce address: "" only for the null sender `<>`, else what it names."""
    if value is None:
        return None
    text = value.decode("utf-8", "replace").strip()
    if text.replace(" ", "") in ("", "<>"):
        return ""
    return parse_from([value]).address or text.strip("<>").lower()[:200]


def _message_charset(root: mime.Part) -> str | None:
    """The charset the message's text declares: raw 8-bit headers are usually in it."""
    pending = [root]
    for _ in range(50):
        if not pending:
            return None
        part = pending.pop(0)
        if part.content_type.startswith("text/"):
            charset = _charset(part)
            if charset:
                return charset
        pending.extend(part.children)
    return None


def _charset(part: mime.Part) -> str | None:
    try:
        charset = part.params.get_content_charset()
    except Exception:
        return None
    return str(charset) if charset else None


def _filename(part: mime.Part, hint: str | None) -> str | None:
    try:
        name = part.params.get_filename()
    except Exception:
        return None
    if not name:
        return None
    return decode_header_value(name.encode("utf-8", "surrogateescape"), hint) or None


def _is_attachment(part: mime.Part, hint: str | None) -> bool:
    disposition = (part.get("content-disposition") or b"").lstrip().lower()
    return disposition.startswith(b"attachment") or _filename(part, hint) is not None


class _Walker:
    """Texts in reading order and attachments in MIME order."""

    def __init__(self, raw: bytes, defects: list[str], hint: str | None) -> None:
        self.raw = raw
        self.defects = defects
        self.hint = hint
        self.texts: list[str] = []
        self.attachments: list[Attachment] = []
        self.text_chars = 0
        self.related = 0

    def visit(self, part: mime.Part) -> None:
        ctype = part.content_type
        if ctype in ("message/rfc822", "message/global") or (
            ctype.startswith("message/") and _is_attachment(part, self.hint)
        ):
            # Forwarded mail is kept whole as an .eml attachment, never read as our headers.
            self.attach(part, f"forwarded-{len(self.attachments) + 1}.eml")
            return
        if part.kept_raw:
            self.attach(part, f"part-{len(self.attachments) + 1}.mime")
            return
        if part.is_multipart:
            if ctype == "multipart/alternative":
                self.alternative(part.children)
            elif ctype == "multipart/report":
                # The human-readable part is read; the returned message and the status
                # fields are the report's machine detail, not something the sender sent us.
                for child in part.children:
                    if not child.content_type.startswith("message/"):
                        self.visit(child)
            else:
                self.related += ctype == "multipart/related"
                for child in part.children:
                    self.visit(child)
                self.related -= ctype == "multipart/related"
            return
        if _is_attachment(part, self.hint) or not ctype.startswith("text/"):
            if ctype.startswith("message/"):
                return  # delivery-status and feedback parts: machine detail, not content
            self.attach(part, f"attachment-{len(self.attachments) + 1}")
            return
        if ctype in ("text/plain", "text/html"):
            self.texts.append(self.text_of(part))
        elif ctype not in _REPORT_DETAIL:
            self.attach(part, f"attachment-{len(self.attachments) + 1}")

    def alternative(self, children: list[mime.Part]) -> None:
        """The richest readable alternative: non-empty plain text, else HTML, else a
        nested multipart; the others are the same content and are not read again."""

        def rank(part: mime.Part) -> int:
            if part.content_type == "text/plain":
                return 0
            if part.content_type == "text/html":
                return 1
            return 2 if part.is_multipart else 3

        chosen = None
        for candidate in sorted(children, key=rank):
            if _is_attachment(candidate, self.hint):
                continue
            texts, attachments = len(self.texts), len(self.attachments)
            self.visit(candidate)
            if any(t.strip() for t in self.texts[texts:]):
                chosen = candidate
                break
            del self.texts[texts:]
            del self.attachments[attachments:]
        if chosen is None and children:
            fallback = sorted(children, key=rank)[0]
            if not _is_attachment(fallback, self.hint):
                self.visit(fallback)
        for child in children:
            if _is_attachment(child, self.hint):
                self.visit(child)

    def text_of(self, part: mime.Part) -> str:
        room = TEXT_CHARS_BUDGET - self.text_chars
        if room <= 0:
            self.note("text_truncated")
            return ""
        if part.end - part.start > TEXT_BYTES_BUDGET:
            self.note("text_truncated")
        data = mime.body(self.raw, part, TEXT_BYTES_BUDGET)
        text = decode_bytes(data, _charset(part), self.hint)
        if part.content_type == "text/html":
            if len(text) > HTML_CHARS_BUDGET:
                self.note("text_truncated")
            text = html_to_text(text[:HTML_CHARS_BUDGET])
        else:
            text = text.strip()
        text = text[:room]
        self.text_chars += len(text)
        return text

    def attach(self, part: mime.Part, default_name: str) -> None:
        if len(self.attachments) >= MAX_ATTACHMENTS:
            self.note("too_many_attachments")
            return
        name = _filename(part, self.hint)
        disposition = (part.get("content-disposition") or b"").lstrip().lower()
        inline = not disposition.startswith(b"attachment") and (name is None or self.related > 0)
        data = mime.body(self.raw, part)
        safe = _FILE_UNSAFE.sub("_", name or default_name)[:200] or "attachment"
        digest = hashlib.sha256(data).hexdigest()
        self.attachments.append(
            Attachment(safe, part.content_type, len(data), digest, data, inline=inline)
        )

    def note(self, defect: str) -> None:
        if defect not in self.defects:
            self.defects.append(defect)
