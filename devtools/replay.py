"""`replay PATH`: push .eml files, a JSONL of requests or a chat export through the local
stack, and report one line per item in one shape, then a summary.

Each line: `item`, `channel`, `result` (`official`, `advisory`, `reply`, `machine`,
`quarantine`, `duplicate`, `refused`, `not processed`), `http` (the API's status, for
tickets and transcripts), `record_id`, `label`, `sub`, `flags`, `reason`. The last line
is `{"summary": ...}`; on long runs a progress line goes to stderr every 25 items.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from devtools.stack import LocalStack

PROGRESS_EVERY = 25
FAILED = ("refused", "not processed")


def replay(path: Path, *, stack: LocalStack, api: str, dead_letters: bool) -> int:
    from devtools.server import local_environment

    os.environ.update(local_environment(stack.aws_port))
    if dead_letters:
        from devtools.mail import redrive_dead_letters

        print(json.dumps({"summary": {"redriven": redrive_dead_letters()}}))
        return 0
    if path.is_dir() or path.suffix == ".eml":
        files = sorted(path.glob("*.eml")) if path.is_dir() else [path]
        items: Iterator[dict[str, Any]] = _mail(files)
        total = len(files)
    elif path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        items, total = _tickets(lines, stack, api), sum(1 for line in lines if line.strip())
    elif path.suffix == ".json":
        bodies = _export(path)
        if bodies is None:
            return 1
        items, total = _transcripts(bodies, stack, api), len(bodies)
    else:
        print(
            f"replay: {path} is not a folder, an .eml, a .jsonl or a .json export", file=sys.stderr
        )
        return 2
    return _report(items, total)


def _report(items: Iterator[dict[str, Any]], total: int) -> int:
    started = time.monotonic()
    results: collections.Counter[str] = collections.Counter()
    labels: collections.Counter[str] = collections.Counter()
    done = 0
    for line in items:
        done += 1
        results[line["result"]] += 1
        if line.get("label"):
            labels[line["label"]] += 1
        print(json.dumps(line, ensure_ascii=False), flush=True)
        if total > PROGRESS_EVERY and done % PROGRESS_EVERY == 0:
            print(f"replay: {done}/{total}", file=sys.stderr, flush=True)
    failed = sum(results[r] for r in FAILED)
    summary = {
        "items": done,
        "failed": failed,
        "by_result": dict(results.most_common()),
        "by_label": dict(labels.most_common()),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps({"summary": summary}, ensure_ascii=False))
    return 1 if failed else 0


def line(item: str, channel: str, result: str, **fields: Any) -> dict[str, Any]:
    scope = fields.pop("scope", None) or {}
    return {
        "item": item,
        "channel": channel,
        "result": result,
        "http": fields.get("http"),
        "record_id": fields.get("record_id"),
        "label": scope.get("label"),
        "sub": scope.get("sub"),
        "flags": scope.get("flags"),
        "reason": fields.get("reason"),
    }


def _mail(files: list[Path]) -> Iterator[dict[str, Any]]:
    from devtools.mail import push_mail

    # Push everything first: the poller works while the first records are awaited.
    pushed = [(f.name, push_mail(f.read_bytes())) for f in files]
    for name, key in pushed:
        yield _mail_outcome(name, key)


def _mail_outcome(name: str, key: str) -> dict[str, Any]:
    from chalicelib.ids import mail_ticket_id
    from devtools.mail import wait_for_record

    rid = mail_ticket_id(os.environ["MAIL_BUCKET"], key)
    found = wait_for_record(rid)
    result = str(found.get("disposition", "not processed"))
    reason = found.get("reason") if found else "no record within 30 s; see the make run terminal"
    return line(name, "email", result, record_id=rid, scope=found.get("scope"), reason=reason)


def _tickets(lines: list[str], stack: LocalStack, api: str) -> Iterator[dict[str, Any]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            request = json.loads(text)
            channel = str(request.get("channel", "cabinet"))
            subject, body = str(request.get("subject") or ""), str(request["text"])
        except (ValueError, KeyError, AttributeError) as error:
            yield line(f"line {number}", "?", "refused", reason=f"unreadable: {error}")
            continue
        item = f"line {number} ({request.get('id', number)})"
        if channel == "email":
            yield _mail_outcome(item, _push_text_mail(request.get("id", number), subject, body))
        elif channel in ("chat", "skype"):
            now = datetime.now(UTC)
            transcript = {
                "id": f"replay-{request.get('id', number)}",
                "channel": channel,
                "started_at": now.isoformat(),
                "ended_at": (now + timedelta(seconds=1)).isoformat(),
                "messages": [{"from": "customer", "at": now.isoformat(), "text": body}],
            }
            yield _post_transcript(item, transcript, stack, api)
        else:
            raw = json.dumps({"subject": subject or body[:60], "text": body}).encode()
            status, answer = _post(f"{api}/tickets", raw, {"Authorization": _token(stack)})
            yield _answered(item, "cabinet", status, answer, "official")


def _push_text_mail(ident: object, subject: str, text: str) -> str:
    from devtools.mail import push_mail

    message = EmailMessage()
    message["From"] = f"replay-{ident}@local.example"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = subject or "(no subject)"
    message.set_content(text)
    return push_mail(message.as_bytes())


def _export(path: Path) -> list[Any] | None:
    from chalicelib.intake.chat_import import transcripts_from_export

    try:
        return list(transcripts_from_export(json.loads(path.read_text(encoding="utf-8"))))
    except ValueError as error:
        print(f"replay: {path}: {error}", file=sys.stderr)
        return None


def _transcripts(bodies: list[Any], stack: LocalStack, api: str) -> Iterator[dict[str, Any]]:
    for body in bodies:
        ident = body.get("id") if isinstance(body, dict) else None
        channel = body.get("channel") if isinstance(body, dict) else None
        yield _post_transcript(f"transcript {ident}", body, stack, api, str(channel or "chat"))


def _post_transcript(
    item: str, body: Any, stack: LocalStack, api: str, channel: str | None = None
) -> dict[str, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(_secret(stack), raw, hashlib.sha256).hexdigest()
    status, answer = _post(f"{api}/chat/transcripts", raw, {"X-Signature": signature})
    return _answered(item, channel or str(body.get("channel")), status, answer, "advisory")


def _answered(
    item: str, channel: str, status: int, answer: dict[str, Any], ok: str
) -> dict[str, Any]:
    error = answer.get("error") or {}
    return line(
        item,
        channel,
        ok if status < 300 else "refused",
        http=status,
        record_id=answer.get("id"),
        scope=answer.get("scope"),
        reason=error.get("code") if error else None,
    )


@functools.cache
def _token(stack: LocalStack) -> str:
    from devtools.server import dev_token

    return dev_token("replay@local.example", False, stack.aws_port)


@functools.cache
def _secret(stack: LocalStack) -> bytes:
    from devtools.server import dev_secret

    return dev_secret(stack.aws_port).encode()


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
