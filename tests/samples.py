"""Small hand-made inputs shared by unit and integration tests."""

from __future__ import annotations

import uuid
from email.message import EmailMessage


def mail(
    sender: str = "anna@flowershop.example",
    subject: str = "Почта не работает",
    body: str = "С утра не уходят письма с нашего домена, сервер отвечает 451.",
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    """A person's mail to support; `Auto_Submitted="..."` adds `Auto-Submitted: ...`."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@support.hosting.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@flowershop.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()
