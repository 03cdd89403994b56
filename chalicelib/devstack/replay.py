"""`replay PATH`: push .eml files or a JSONL of requests through the local stack, and report."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any


def replay(path: Path, *, api: str, aws_port: int, dead_letters: bool) -> int:
    from chalicelib.devstack.mail import describe_outcome, push_mail, redrive_dead_letters
    from chalicelib.devstack.server import local_environment
    from chalicelib.intake.mail.pipeline import record_id_for

    os.environ.update(local_environment(aws_port))
    if dead_letters:
        print(json.dumps({"redriven": redrive_dead_letters()}))
        return 0
    if path.is_dir() or path.suffix == ".eml":
        files = sorted(path.glob("*.eml")) if path.is_dir() else [path]
        pushed = [(f.name, push_mail(f.read_bytes())) for f in files]
        return _report_mail(pushed, record_id_for, describe_outcome)
    if path.suffix == ".jsonl":
        return _replay_requests(path, api)
    if path.suffix == ".json":
        return _replay_export(path, api)
    print(f"replay: {path} is not a folder, an .eml, a .jsonl or a .json export", file=sys.stderr)
    return 2


def _report_mail(pushed: list[tuple[str, str]], record_id_for: Any, describe: Any) -> int:
    from chalicelib.devstack.mail import wait_for_record

    missing = 0
    for name, key in pushed:
        rid = record_id_for(os.environ["MAIL_BUCKET"], key)
        found = wait_for_record(rid)
        missing += not found
        print(describe(name, rid, found))
    return 1 if missing else 0


def _replay_requests(path: Path, api: str) -> int:
    from chalicelib.devstack.mail import describe_outcome, push_mail, wait_for_record
    from chalicelib.devstack.server import dev_secret, dev_token
    from chalicelib.intake.mail.pipeline import record_id_for

    token = dev_token("replay@local.example", staff=False)
    secret = dev_secret().encode()
    failures = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            channel = request.get("channel", "cabinet")
            subject, text = request.get("subject") or "", request["text"]
        except (ValueError, KeyError, AttributeError) as error:
            failures += 1
            print(f"line {number}: {error}", file=sys.stderr)
            continue
        ident = request.get("id", str(number))
        if channel == "email":
            message = EmailMessage()
            message["From"] = f"replay-{ident}@local.example"
            message["To"] = "support@support.hosting.example"
            message["Subject"] = subject or "(no subject)"
            message.set_content(text)
            key = push_mail(message.as_bytes())
            rid = record_id_for(os.environ["MAIL_BUCKET"], key)
            print(describe_outcome(f"line {number} ({ident})", rid, wait_for_record(rid)))
            continue
        if channel in ("chat", "skype"):
            now = datetime.now(UTC)
            body = {
                "id": f"replay-{ident}",
                "channel": channel,
                "started_at": now.isoformat(),
                "ended_at": (now + timedelta(seconds=1)).isoformat(),
                "messages": [{"from": "customer", "at": now.isoformat(), "text": text}],
            }
            raw = json.dumps(body, ensure_ascii=False).encode()
            signature = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
            status, answer = _post(f"{api}/chat/transcripts", raw, {"X-Signature": signature})
        else:
            raw = json.dumps({"subject": subject or text[:60], "text": text}).encode()
            status, answer = _post(f"{api}/tickets", raw, {"Authorization": token})
        failures += status >= 300
        scope = answer.get("scope") or {}
        print(
            json.dumps(
                {
                    "line": number,
                    "id": ident,
                    "channel": channel,
                    "status": status,
                    "record_id": answer.get("id"),
                    "label": scope.get("label"),
                    "sub": scope.get("sub"),
                    "flags": scope.get("flags"),
                    "error": answer.get("error"),
                },
                ensure_ascii=False,
            )
        )
    return 1 if failures else 0


def _replay_export(path: Path, api: str) -> int:
    """An exported chat file (list of transcripts or Skype's export), signed to the webhook."""
    from chalicelib.devstack.server import dev_secret
    from chalicelib.intake.chat_import import transcripts_from_export

    secret = dev_secret().encode()
    try:
        bodies = transcripts_from_export(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        print(f"replay: {path}: {error}", file=sys.stderr)
        return 1
    failures = 0
    for body in bodies:
        raw = json.dumps(body, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        status, answer = _post(f"{api}/chat/transcripts", raw, {"X-Signature": signature})
        failures += status >= 300
        scope = answer.get("scope") or {}
        print(
            json.dumps(
                {
                    "transcript": body.get("id") if isinstance(body, dict) else None,
                    "status": status,
                    "record_id": answer.get("id"),
                    "label": scope.get("label"),
                    "error": answer.get("error"),
                },
                ensure_ascii=False,
            )
        )
    return 1 if failures else 0


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the local stack's own URL
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except urllib.error.URLError as error:
        raise SystemExit(f"the local API is not answering at {url}: {error.reason}") from None
