"""Exported transcripts dropped into S3 (`imports/chat/`), through the same chat pipeline.

Two formats are read: a JSON list of transcripts in the webhook's shape (or an object
with a `transcripts` list), and Skype's own export (`messages.json`: the exporting
account is the operator, everyone else the customer). Each transcript is validated as
the webhook validates it; a file's outcome, transcript by transcript, is written next to
it as a report, so nothing is dropped without a reason.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import observability as obs
from chalicelib.blobs import BlobStore
from chalicelib.errors import DomainError
from chalicelib.intake.chat import ChatIntake, parse_transcript
from chalicelib.intake.mail.html_text import html_to_text

PREFIX = "imports/chat/"
REPORTS = "imports/reports/"
MAX_FILE_BYTES = 50 * 1024 * 1024
_SKYPE_TEXT_TYPES = frozenset({"Text", "RichText", "RichText/Html"})


def transcripts_from_export(data: Any) -> list[dict[str, Any]]:
    """Webhook-shaped transcript bodies from an export file's JSON."""
    if isinstance(data, dict) and "conversations" in data and "userId" in data:
        return _from_skype(data)
    if isinstance(data, dict) and isinstance(data.get("transcripts"), list):
        return list(data["transcripts"])
    if isinstance(data, list):
        return data
    raise ValueError("neither a list of transcripts nor a Skype export")


def _from_skype(export: dict[str, Any]) -> list[dict[str, Any]]:
    operator = str(export["userId"])
    conversations = export.get("conversations") or []
    if not isinstance(conversations, list):
        raise ValueError("a Skype export's `conversations` must be a list")
    transcripts = []
    for conversation in conversations:
        if not isinstance(conversation, dict):
            continue
        items = conversation.get("MessageList") or []
        if not isinstance(items, list):
            raise ValueError("a Skype conversation's `MessageList` must be a list")
        messages = []
        for item in items:
            if not isinstance(item, dict) or item.get("messagetype") not in _SKYPE_TEXT_TYPES:
                continue  # calls, joins and other events are not conversation turns
            text = html_to_text(str(item.get("content") or ""))
            if not text:
                continue
            messages.append(
                {
                    "from": "operator" if item.get("from") == operator else "customer",
                    "at": str(item.get("originalarrivaltime", "")).replace("Z", "+00:00"),
                    "text": text,
                }
            )
        if not messages:
            continue
        messages.sort(key=lambda m: m["at"])  # Skype lists the newest first
        transcripts.append(
            {
                "id": f"skype-export:{conversation.get('id', '')}"[:128],
                "channel": "skype",
                "started_at": messages[0]["at"],
                "ended_at": messages[-1]["at"],
                "messages": messages,
            }
        )
    return transcripts


class ChatImport:
    def __init__(self, blobs: BlobStore, chat: ChatIntake) -> None:
        self._blobs = blobs
        self._chat = chat

    def process_object(self, bucket: str, key: str) -> dict[str, Any]:
        """Import one exported file; the per-transcript report is also stored in S3."""
        report: dict[str, Any] = {"file": f"s3://{bucket}/{key}", "transcripts": []}
        try:
            if self._blobs.size(bucket, key) > MAX_FILE_BYTES:
                raise ValueError(f"file over {MAX_FILE_BYTES} bytes")
            body = self._blobs.read(bucket, key)
            bodies = transcripts_from_export(json.loads(body))
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            report["error"] = str(error) or type(error).__name__
            obs.count(obs.IMPORTS_REJECTED)
            self._save(bucket, key, report)
            return report
        for index, raw in enumerate(bodies):
            entry: dict[str, Any] = {
                "index": index,
                "id": raw.get("id") if isinstance(raw, dict) else None,
            }
            try:
                transcript = parse_transcript(raw if isinstance(raw, dict) else {})
                record, created = self._chat.record(transcript)
                entry.update(record_id=record["id"], outcome="recorded" if created else "duplicate")
            except DomainError as error:
                entry.update(outcome="rejected", reason=error.code, message=error.message)
                obs.count(obs.IMPORTS_REJECTED)
            report["transcripts"].append(entry)
        self._save(bucket, key, report)
        return report

    def _save(self, bucket: str, key: str, report: dict[str, Any]) -> None:
        name = REPORTS + key.removeprefix(PREFIX) + ".report.json"
        body = json.dumps(report, ensure_ascii=False, indent=1).encode()
        self._blobs.write(bucket, name, body, content_type="application/json")
