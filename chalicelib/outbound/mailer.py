"""Mail that leaves the system."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

# SES message tags name what a mail carries (`request`, `item`): SES returns them with
# every bounce and complaint, even when it has replaced the Message-ID header.
Tags = Mapping[str, str]


class Mailer(Protocol):
    def send(
        self, message: EmailMessage, *, source: str, to: str, tags: Tags | None = None
    ) -> str | None:
        """Hand one message to the mail service; its id there; raise if not accepted."""
        ...


class SesMailer:
    """SES `SendRawEmail`, through an injected client; with a configuration set, SES
    reports bounces and complaints of what it sends (to the mail queue)."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set

    def send(
        self, message: EmailMessage, *, source: str, to: str, tags: Tags | None = None
    ) -> str | None:
        params: dict[str, Any] = {
            "Source": source,
            "Destinations": [to],
            "RawMessage": {"Data": message.as_bytes()},
        }
        if self._configuration_set:
            params["ConfigurationSetName"] = self._configuration_set
        if tags:
            params["Tags"] = [{"Name": k, "Value": v} for k, v in tags.items()]
        response = self._client.send_raw_email(**params)
        return str(response.get("MessageId") or "") or None


class FolderMailer:
    """The local stack's SES: every message as one .eml in a folder, and a console line."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def send(
        self, message: EmailMessage, *, source: str, to: str, tags: Tags | None = None
    ) -> str | None:
        self._folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        name = f"{stamp}-{secrets.token_hex(3)}.eml"
        if tags:  # as SES takes tags in a raw mail's own header
            message["X-SES-MESSAGE-TAGS"] = ", ".join(f"{k}={v}" for k, v in tags.items())
        (self._folder / name).write_bytes(message.as_bytes())
        print(f"OUTBOX {name}: to {to}: {message['Subject']}", flush=True)
        return f"local-{name.removesuffix('.eml')}"
