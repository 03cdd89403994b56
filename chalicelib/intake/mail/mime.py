"""The MIME structure of a raw message as byte ranges: one linear pass, bounded work.

CPython's feed parser copies every body line into its own string, rescans, recurses
once per nesting level and gives up on a header block at its first odd line. This
reader finds header blocks and boundaries with `bytes.find` over the raw message, keeps
each body as a (start, end) range into it, decodes a body only when asked, and bounds
everything a hostile message could multiply: nesting depth, number of parts, header
lines and header sizes. What it does not parse stays in the raw message in S3.

Broken header blocks are recovered rather than dropped: a leading mbox `From ` line or
junk line is skipped, a byte-order mark is ignored, obsolete `Name :` syntax is read,
and an unfolded continuation line (no leading white space, but more headers follow) is
joined to the header above it.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.message import Message

from chalicelib.intake.mail.charsets import b64_or_none

MAX_DEPTH = 20  # multipart nesting; deeper parts are kept raw, as attachments
MAX_PARTS = 2_000
MAX_HEADER_LINES = 20_000
MAX_FIELDS = 1_000
VALUE_BUDGET = 16_384  # raw bytes kept of one header value
PARAM_BUDGET = 4_096  # of Content-Type / Content-Disposition, for parameter parsing
LOOKAHEAD_LINES = 20
MAX_BOUNDARY_MISSES = 100_000
# Past MAX_HEADER_LINES or MAX_FIELDS, only these are still kept (the first of each):
# what identifies the mail, threads it, and tells a person from a machine.
IDENTIFYING = frozenset(
    [
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "return-path",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "mime-version",
        "auto-submitted",
        "precedence",
        "x-auto-response-suppress",
        "x-loop",
        "x-failed-recipients",
        "list-id",
        "list-unsubscribe",
        "list-post",
        "list-help",
        "list-subscribe",
        "x-mailing-list",
        "x-beenthere",
        "x-ml-name",
        "x-mlserver",
    ]
)
_NAME = re.compile(rb"([!-9;-~]{1,100})[ \t]*:")
_BOM = b"\xef\xbb\xbf"


@dataclass
class Part:
    """One entity: its header fields (lower-case name, raw value) and its body's range."""

    fields: list[tuple[str, bytes]]
    start: int
    end: int
    content_type: str = "text/plain"
    children: list[Part] = field(default_factory=list)
    kept_raw: bool = False  # a multipart not descended into (depth or part limit)
    _params: Message | None = None

    def get(self, name: str) -> bytes | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[bytes]:
        return [value for key, value in self.fields if key == name]

    @property
    def params(self) -> Message:
        """Content-Type and Content-Disposition, parameters readable the stdlib way
        (RFC 2231 continuations and charsets included)."""
        if self._params is None:
            message = Message()
            for name in ("content-type", "content-disposition"):
                value = self.get(name)
                if value is not None:
                    message[name] = _as_text(value[:PARAM_BUDGET])
            self._params = message
        return self._params

    @property
    def is_multipart(self) -> bool:
        return bool(self.children)


@dataclass
class Tree:
    raw: bytes
    root: Part
    defects: list[str]


def parse_tree(raw: bytes) -> Tree:
    """The structure of `raw`; never raises for malformed input."""
    context = _Context(raw)
    start = len(_BOM) if raw.startswith(_BOM) else 0
    root = context.entity(start, len(raw), 0, "text/plain")
    return Tree(raw, root, context.defects)


def body(raw: bytes, part: Part, limit: int | None = None) -> bytes:
    """A part's body with its transfer encoding undone; at most `limit` raw bytes read."""
    end = part.end if limit is None else min(part.end, part.start + limit)
    view = memoryview(raw)[part.start : end]
    encoding = _as_text(part.get("content-transfer-encoding") or b"").strip().lower()
    if encoding == "base64":
        decoded = b64_or_none(view)
        return decoded if decoded is not None else bytes(view)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(view)
        except (binascii.Error, ValueError):
            return bytes(view)
    return bytes(view)


def _as_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class _Context:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.defects: list[str] = []
        self.parts = 0
        # Lines that start like a boundary but are not one cost a step each; a message
        # made of them (with boundaries that prefix each other at every level) must not
        # cost depth x size steps.
        self.scan_budget = MAX_BOUNDARY_MISSES

    def defect(self, name: str) -> None:
        if len(self.defects) < 50 and name not in self.defects:
            self.defects.append(name)

    def entity(self, start: int, end: int, depth: int, default_type: str) -> Part:
        fields, body_start = self.header_block(start, end)
        part = Part(fields, body_start, end)
        self.parts += 1
        part.content_type = _content_type(part, default_type)
        if not part.content_type.startswith("multipart/"):
            return part
        boundary = _boundary(part)
        if depth >= MAX_DEPTH or self.parts >= MAX_PARTS:
            self.defect("nesting_too_deep" if depth >= MAX_DEPTH else "too_many_parts")
            part.kept_raw = True
            return part
        spans: list[tuple[int, int]] = []
        if boundary:
            spans, misses = split_multipart(
                self.raw, body_start, end, boundary, MAX_PARTS - self.parts, self.scan_budget
            )
            self.scan_budget -= misses
            if self.scan_budget < 0:
                self.defect("boundary_scan_budget_spent")
        if not spans:
            # No boundary, or none found: the stdlib reads such a body as plain text too.
            self.defect("multipart_without_parts")
            part.content_type = "text/plain"
            return part
        child_type = "message/rfc822" if part.content_type == "multipart/digest" else "text/plain"
        for child_start, child_end in spans:
            if self.parts >= MAX_PARTS:
                self.defect("too_many_parts")
                break
            part.children.append(self.entity(child_start, child_end, depth + 1, child_type))
        return part

    def header_block(self, start: int, end: int) -> tuple[list[tuple[str, bytes]], int]:
        """Header fields from `start` and where the body begins, recovering what a broken
        block still holds."""
        raw = self.raw
        lines = _Lines(raw, start, end)
        fields: list[tuple[str, bytearray]] = []
        index, kept, crowded = 0, True, False
        present: set[str] = set()  # the names kept, once crowded
        while True:
            if not crowded and (index >= MAX_HEADER_LINES or len(fields) >= MAX_FIELDS):
                # Read on to the block's end (linear, one line at a time), keeping only
                # what identifies the mail: its sender and subject survive any block.
                self.defect("header_block_too_long")
                crowded, present = True, {k for k, _ in fields}
            line = lines.get(index)
            if line is None:
                return _frozen(fields), end
            line_start, line_end, following = line
            if line_start == line_end:
                return _frozen(fields), following
            first = raw[line_start]
            name = _NAME.match(raw, line_start, min(line_end, line_start + 110))
            if name and first not in (0x20, 0x09):
                key = name.group(1).decode("ascii", "replace").lower()
                kept = not crowded or (key in IDENTIFYING and key not in present)
                if kept:
                    present.add(key)
                    value_start = name.end()
                    value = bytearray(raw[value_start : min(line_end, value_start + VALUE_BUDGET)])
                    fields.append((key, value))
                if name.group(0)[-2:-1] in (b" ", b"\t"):
                    self.defect("obsolete_header_syntax")  # "From : ..." (RFC 5322 4.5)
            elif first in (0x20, 0x09) and fields:
                if kept:
                    _append(fields[-1][1], raw, line_start, line_end)
            elif index == 0 and raw.startswith(b"From ", line_start):
                self.defect("mbox_from_line")
            elif self._headers_follow(lines, index):
                # An unfolded continuation line, or junk above the headers.
                self.defect("broken_header_line")
                if fields:
                    fields[-1][1].extend(b" ")
                    _append(fields[-1][1], raw, line_start, line_end)
            else:
                if fields or index:
                    self.defect("missing_header_body_separator")
                return _frozen(fields), line_start
            index += 1

    def _headers_follow(self, lines: _Lines, index: int) -> bool:
        for ahead in range(index + 1, index + 1 + LOOKAHEAD_LINES):
            line = lines.get(ahead)
            if line is None or line[0] == line[1]:
                return False
            if _NAME.match(self.raw, line[0], min(line[1], line[0] + 110)) and self.raw[
                line[0]
            ] not in (0x20, 0x09):
                return True
        return False


class _Lines:
    """Lines of a range, found once each and remembered (lookahead needs to peek)."""

    def __init__(self, raw: bytes, start: int, end: int) -> None:
        self.raw, self.end = raw, end
        self.found: list[tuple[int, int, int]] = []
        self.base = 0  # the index of found[0]: lines far behind the reader are dropped
        self.next = start

    def get(self, index: int) -> tuple[int, int, int] | None:
        while self.base + len(self.found) <= index:
            if self.next >= self.end:
                return None
            newline = self.raw.find(b"\n", self.next, self.end)
            following = self.end if newline == -1 else newline + 1
            line_end = self.end if newline == -1 else newline
            if line_end > self.next and self.raw[line_end - 1] == 0x0D:
                line_end -= 1
            self.found.append((self.next, line_end, following))
            self.next = following
        line = self.found[index - self.base]
        if index - self.base > 1024:  # the reader looks ahead, never far back
            drop = index - self.base - LOOKAHEAD_LINES - 8
            del self.found[:drop]
            self.base += drop
        return line


def _append(value: bytearray, raw: bytes, start: int, end: int) -> None:
    room = VALUE_BUDGET - len(value)
    if room > 0:
        value.extend(b"\r\n")
        value.extend(raw[start : min(end, start + room)])


def _frozen(fields: list[tuple[str, bytearray]]) -> list[tuple[str, bytes]]:
    return [(name, bytes(value).strip()) for name, value in fields]


def split_multipart(
    raw: bytes, start: int, end: int, boundary: bytes, max_parts: int, max_misses: int
) -> tuple[list[tuple[int, int]], int]:
    """Body ranges between `--boundary` lines (RFC 2046), and how many look-alike lines
    were passed over. The line break before a delimiter belongs to it; a missing close
    delimiter ends the last part at `end`. Past `max_parts` parts, or `max_misses` lines
    that start like a delimiter but are not one, the rest is one last part, unsplit.
    """
    delimiter = b"--" + boundary
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    position = start
    misses = 0
    while position < end and len(spans) < max_parts and misses <= max_misses:
        found = raw.find(delimiter, position, end)
        if found == -1:
            break
        after = found + len(delimiter)
        newline = raw.find(b"\n", after, end)
        line_end = end if newline == -1 else newline
        if found != start and raw[found - 1] != 0x0A:
            misses += 1
            position = after
            continue
        if line_end - after > 100:
            misses += 1
            position = line_end
            continue
        tail = raw[after:line_end].rstrip(b"\r")
        closing = tail.startswith(b"--")
        if (tail[2:] if closing else tail).strip(b" \t"):
            misses += 1
            position = line_end
            continue
        if part_start is not None:
            part_end = found
            if part_end > part_start and raw[part_end - 1] == 0x0A:
                part_end -= 1
                if part_end > part_start and raw[part_end - 1] == 0x0D:
                    part_end -= 1
            spans.append((part_start, part_end))
        part_start = min(line_end + 1, end)
        if closing:
            return spans, misses
        position = part_start
    if part_start is not None and part_start < end:
        spans.append((part_start, end))
    return spans, misses


def _content_type(part: Part, default: str) -> str:
    if part.get("content-type") is None:
        return default
    try:
        ctype = part.params.get_content_type().lower()
    except Exception:
        return "application/octet-stream"
    return ctype if len(ctype) <= 100 else "application/octet-stream"


def _boundary(part: Part) -> bytes | None:
    try:
        boundary = part.params.get_boundary()
    except Exception:
        return None
    if not boundary or len(boundary) > 200:
        return None
    return boundary.encode("utf-8", "surrogateescape")
