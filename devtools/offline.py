"""`parse-email`: what the intake would make of .eml files, without AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.classify import classify_request
from chalicelib.ids import SUBJECT_TAG
from chalicelib.intake.mail.adapter import thread_references
from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.parse import parse_mail

TEXT_CHARS = 2_000


def describe(path: Path, domain: str, text_chars: int | None = TEXT_CHARS) -> dict[str, Any]:
    """One JSON-able line: disposition, reason, sender, subject, text, attachments, scope."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return {"file": str(path), "disposition": "quarantine", "reason": f"unreadable: {error}"}
    mail = parse_mail(raw)
    reason = machine_reason(mail)
    tag = SUBJECT_TAG.search(mail.subject)
    if reason:
        disposition, scope = "machine", None
    else:
        disposition = "reply" if thread_references(mail, domain) else "advisory"
        scope = classify_request(mail.subject, mail.text, "email")[0].to_dict()
    return {
        "file": str(path),
        "disposition": disposition,
        "reason": reason,
        "from_addr": mail.from_addr,
        "subject": mail.subject,
        "text": mail.text[:text_chars],
        "attachments": [a.name for a in mail.attachments if not a.inline],
        "inline_parts": [a.name for a in mail.attachments if a.inline],
        "thread_tag": tag.group(1) if tag else None,
        "scope": scope,
        "defects": mail.defects,
    }
