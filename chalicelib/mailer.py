"""Mail that leaves the system."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any, Protocol


class Mailer(Protocol):
    def send(self, message: EmailMessage, *, source: str, to: str) -> None:
        """Hand one message to the mail service; raise if it was not accepted."""
        ...


class SesMailer:
    """SES `SendRawEmail`, through an injected client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, message: EmailMessage, *, source: str, to: str) -> None:
        self._client.send_raw_email(
            Source=source, Destinations=[to], RawMessage={"Data": message.as_bytes()}
        )
