"""Composing a customer mail from the templates (`templates.json`, data, not code).

Built with EmailMessage and the SMTP policy: header values come from decoded single-line
text and are encoded by the library, never copied raw from an inbound mail. Threading
follows RFC 5322: `In-Reply-To` the message answered, `References` the chain, our own
Message-ID (deterministic, so a resend is the same message to the recipient's client).
"""

from __future__ import annotations

import html
import json
import re
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Literal

from chalicelib.classify.clean import own_words
from chalicelib.ids import REQUEST_ID
from chalicelib.timeutil import Clock
from chalicelib.values import frozen

Kind = Literal[
    "acknowledgement",
    "answer",
    "response_notification",
    "delay_notification",
    "solved_notification",
]
BILINGUAL = "ru+en"  # one letter in both languages, then the shared part (`both`)
_CYRILLIC = range(0x0400, 0x0500)
_QUOTED = re.compile(r"«[^»\n]{0,300}»|\"[^\"\n]{0,300}\"|“[^”\n]{0,300}”|`[^`\n]{0,300}`")
_CLAUSE = re.compile(r"[,.;:!?\n()—]+")
_ERROR_WORD = re.compile(
    r"\b(?:error|exception|fail(?:ed|ure)?|denied|refused|cannot|can't|unable|timeout|"
    r"timed out|not found|forbidden|unavailable|warning|invalid)\b",
    re.IGNORECASE,
)
_MACHINE_LINE = re.compile(
    r"^\s*(?:at |File \"|Traceback|\[[^\]]{1,40}\]|\d{4}-\d\d-\d\d[ T]\d\d:)"
    r"|(?:Error|Exception|Warning|Fatal)\b[^а-яё]*$"
    r"|[/\\][\w.-]+[/\\][\w.-]+|[{};]\s*$|\w+\(\)|<\?php",
    re.IGNORECASE,
)
SUBJECT_MAX = 200
_ELLIPSIS = "…"
_TAGS = re.compile(r"\[#" + REQUEST_ID + r"\]")


class _MailPolicy(EmailPolicy):
    """The SMTP policy, except that a non-ASCII subject is folded by `email.header`:
    Python 3.11's folder drops the space between two encoded words ("на другой" reached
    the customer as "надругой"). Runs of non-ASCII words are encoded as one chunk (their
    spaces inside the encoded text), ASCII words stay readable (`[#id]`, for filters and
    threading), and `Header` puts one space between the chunks."""

    def _fold(self, name: str, value: object, refold_binary: bool = False) -> str:
        text = str(value)
        if name.lower() != "subject" or text.isascii():
            return str(super()._fold(name, value, refold_binary))  # type: ignore[misc]
        folded = Header(header_name=name, maxlinelen=self.max_line_length or 78)
        for chunk, charset in _runs(text):
            folded.append(chunk, charset)
        return f"{name}: {folded.encode(linesep=self.linesep)}{self.linesep}"


def _runs(text: str) -> list[tuple[str, str]]:
    """Maximal runs of ASCII words and of non-ASCII words, with their inner spaces."""
    runs: list[list[str]] = []
    for word in text.split():
        charset = "us-ascii" if word.isascii() else "utf-8"
        if runs and runs[-1][1] == charset:
            runs[-1][0] += " " + word
        else:
            runs.append([word, charset])
    return [(chunk, charset) for chunk, charset in runs]


MAIL_POLICY = _MailPolicy(linesep="\r\n")  # what `email.policy.SMTP` is, but the subject


class Undeliverable(ValueError):
    """An address no mail can be sent to as it stands; `reason` is what staff see."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def single_line(text: str, limit: int = 150) -> str:
    """Header-safe text: no CR/LF or other controls, bounded."""
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:limit]


def deliverable_address(address: str) -> str:
    """The bare address to put in `To:` and hand SES, or Undeliverable. A control
    character is never copied into a header; an internationalised domain goes out as
    punycode (IDNA); a non-ASCII local part needs SMTPUTF8, which SES does not send."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or any(not ch.isprintable() for ch in address):
        raise Undeliverable("invalid_address")
    if any(ch in local for ch in ' "(),:;<>[\\]') or len(local) > 64:
        raise Undeliverable("invalid_address")
    if not local.isascii():
        raise Undeliverable("smtputf8_required")  # SES cannot send to it
    try:
        ascii_domain = domain.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise Undeliverable("invalid_address") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(label and len(label) <= 63 for label in labels):
        raise Undeliverable("invalid_address")
    if any(not (c.isalnum() or c == "-") for c in ascii_domain.replace(".", "")):
        raise Undeliverable("invalid_address")
    return f"{local}@{ascii_domain}"


def fitted_subject(template: str, fields: dict[str, str], limit: int = SUBJECT_MAX) -> str:
    """The subject line with the customer's subject shortened to fit `limit`, so that
    what the template puts after it (the `[#id]` tag threading depends on) survives."""
    # The customer's subject without any request tag: the template adds ours, and a tag of
    # another request (theirs or anyone's) would thread the reply there.
    subject = _TAGS.sub(" ", single_line(fields.get("subject", ""), 10 * limit))
    subject = " ".join(subject.split())
    line = single_line(template.format(**{**fields, "subject": subject}), 10 * limit)
    over = len(line) - limit
    if over > 0:
        kept = subject[: max(len(subject) - over - len(_ELLIPSIS), 0)].rstrip()
        line = single_line(template.format(**{**fields, "subject": kept + _ELLIPSIS}), limit)
    return line


@cache
def templates() -> dict[str, dict[str, dict[str, str]]]:
    text = (Path(__file__).parent / "templates.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, dict[str, str]]] = json.loads(text)
    return loaded


def language_of(text: str, preferred: str | None = None) -> str:
    """R2.9: the language to write to the customer in: the account's where the directory
    knows it (`preferred`, a locale such as `ru-RU`), else that of the customer's own
    words. Quoted messages, quoted strings and machine lines (logs, paths, code, error
    texts copied from a screen) are set aside, so a Russian request quoting an English
    error is answered in Russian; a fifth of the remaining letters in Cyrillic makes
    Russian (a Russian sentence around English product names)."""
    if preferred and preferred[:2].lower() in ("ru", "en"):
        return preferred[:2].lower()
    own = own_words(text[:4_000])
    letters = [ch for ch in _prose(own) if ch.isalpha()] or [ch for ch in own if ch.isalpha()]
    cyrillic = sum(ord(ch) in _CYRILLIC for ch in letters)
    return "ru" if letters and cyrillic * 5 >= len(letters) else "en"


def _prose(text: str) -> str:
    """The customer's sentences: without quoted strings and lines that read as a
    machine's (a log line, a stack frame, a path, code)."""
    kept = [line for line in text.splitlines() if not _MACHINE_LINE.search(line)]
    clauses = _CLAUSE.split(_QUOTED.sub(" ", "\n".join(kept)))
    # An error message copied in without quotes: a clause without a Cyrillic letter
    # that says what failed ("Error establishing a database connection, MySQL ...").
    return " ".join(c for c in clauses if not (_ERROR_WORD.search(c) and c.isascii()))


@frozen
class Letter:
    """A composed customer mail, before it becomes MIME."""

    kind: Kind
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # RFC 3834: notifications are auto-generated, acknowledgements auto-replied; answers
    # (a person wrote them) are neither.
    automatic: Literal["", "auto-generated", "auto-replied"] = ""


def compose(kind: Kind, language: str, fields: dict[str, str], **letter: object) -> Letter:
    """Fill the `kind` template in `language` (`ru`/`en`, or `BILINGUAL`: Russian, then
    English, then the part both share); HTML gets escaped values."""
    kinds = templates()[kind]
    if language == BILINGUAL:
        parts = [kinds["ru"], kinds["en"], kinds["both"]]
    else:
        parts = [kinds[language if language in ("ru", "en") else "en"]]
    escaped = {f"{k}_html": html.escape(v).replace("\n", "<br>") for k, v in fields.items()}
    escaped.update({k: html.escape(v) for k, v in fields.items()})
    return Letter(
        kind=kind,
        subject=fitted_subject(parts[-1]["subject"], fields),
        text="\n".join(part["text"].format(**fields) for part in parts),
        html="".join(part["html"].format(**escaped) for part in parts),
        **letter,  # type: ignore[arg-type]
    )


def to_message(letter: Letter, *, sender: str, clock: Clock) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Message-ID"] = letter.message_id
    message["Date"] = format_datetime(clock())
    if letter.in_reply_to:
        message["In-Reply-To"] = f"<{letter.in_reply_to.strip('<>')}>"
    chain = [f"<{ref.strip('<>')}>" for ref in letter.references if ref]
    if chain:
        message["References"] = " ".join(chain[-20:])
    if letter.automatic:
        message["Auto-Submitted"] = letter.automatic  # RFC 3834
        message["X-Auto-Response-Suppress"] = "All"
    if letter.automatic == "auto-replied":
        message["Precedence"] = "auto_reply"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message
