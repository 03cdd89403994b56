"""Composing a customer mail from the templates (`templates.json`, data, not code).

Built with EmailMessage and the SMTP policy: header values come from decoded single-line
text and are encoded by the library, never copied raw from an inbound mail. Threading
follows RFC 5322: `In-Reply-To` the message answered, `References` the chain, our own
Message-ID (deterministic, so a resend is the same message to the recipient's client).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Literal

from chalicelib.intake.mail.ack import single_line
from chalicelib.timeutil import Clock

Kind = Literal["answer", "response_notification", "delay_notification"]
_CYRILLIC = range(0x0400, 0x0500)


@cache
def templates() -> dict[str, dict[str, dict[str, str]]]:
    text = (Path(__file__).parent / "templates.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, dict[str, str]]] = json.loads(text)
    return loaded


def language_of(text: str) -> str:
    """`ru` when the request is mostly Cyrillic letters, else `en`."""
    letters = [ch for ch in text[:2_000] if ch.isalpha()]
    cyrillic = sum(ord(ch) in _CYRILLIC for ch in letters)
    return "ru" if letters and cyrillic * 2 >= len(letters) else "en"


@dataclass(frozen=True)
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
    automatic: bool = False  # RFC 3834: notifications are auto-generated; answers are not


def compose(kind: Kind, language: str, fields: dict[str, str], **letter: object) -> Letter:
    """Fill the `kind` template in `language` (`ru`/`en`); HTML gets escaped values."""
    template = templates()[kind][language if language in ("ru", "en") else "en"]
    escaped = {f"{k}_html": html.escape(v).replace("\n", "<br>") for k, v in fields.items()}
    escaped.update({k: html.escape(v) for k, v in fields.items()})
    return Letter(
        kind=kind,
        subject=single_line(template["subject"].format(**fields), 200),
        text=template["text"].format(**fields),
        html=template["html"].format(**escaped),
        **letter,  # type: ignore[arg-type]
    )


def to_message(letter: Letter, *, sender: str, clock: Clock) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
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
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834
        message["X-Auto-Response-Suppress"] = "All"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message
