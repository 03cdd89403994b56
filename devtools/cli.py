"""The command line behind `python -m chalicelib <command>` (README, Command line)."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from chalicelib.classify import classify_request

CHANNELS = ("cabinet", "email", "chat", "skype")


def classify_lines(lines: Iterable[str], out: IO[str], err: IO[str]) -> int:
    """JSONL in (`id`, `channel`, `subject`, `text`), JSONL out; bad lines go to stderr."""
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            text = record.get("text")
            if not isinstance(text, str):
                raise ValueError("`text` must be a string")
            subject = record.get("subject") or ""
            if not isinstance(subject, str):
                raise ValueError("`subject` must be a string")
            channel = record.get("channel") or "cabinet"
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}")
        except ValueError as error:
            failures += 1
            print(f"line {number}: {error}", file=err)
            continue
        scope, kb = classify_request(subject, text, channel)
        result: dict[str, Any] = {"id": record.get("id"), **scope.to_dict()}
        result["kb"] = [a.to_dict() for a in kb]
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 1 if failures else 0


def _configured_runtime(stack: Any) -> Any:
    """The runtime of the configured stack: the environment's (deployed), else the local one."""
    from chalicelib.config import Settings
    from chalicelib.runtime import build_runtime

    env: dict[str, str] = dict(os.environ)
    if "SUPPORT_TABLE_NAME" not in env:
        from devtools.server import local_environment

        env = local_environment(stack.aws_port)
    return build_runtime(Settings.from_env(env))


def export_corrections(stack: Any) -> int:
    """Corrected requests in the labelled format bench/classify_bench.py reads."""
    fields = ("id", "channel", "subject", "text", "label", "sub", "abusive", "classifier")
    for item in _configured_runtime(stack).store.tickets.corrections():
        print(json.dumps({k: item.get(k) for k in fields}, ensure_ascii=False))
    return 0


def time_travel_refused(now_text: str | None, allowed_on: str | None) -> str | None:
    """Why a `--now` is refused: outside the local stack (a deployed table's name in the
    environment), time travel runs only when `--time-travel-on` names that table."""
    table = os.environ.get("SUPPORT_TABLE_NAME")
    if now_text is None or table is None or allowed_on == table:
        return None
    return (
        f"--now moves the clock of the deployed table {table}: every due deadline there is "
        f"breached and escalated as of that time. Add --time-travel-on {table} to mean it."
    )


def sla_sweep(now_text: str | None, stack: Any, allowed_on: str | None = None) -> int:
    """One sweep against the configured stack: the environment's, else the local one. Its
    metrics go to that stack's CloudWatch (the local stand-in's, or the deployed one's),
    as the scheduled sweep's do from Lambda."""
    import boto3

    from chalicelib import observability as obs
    from chalicelib.timeutil import parse_iso
    from devtools import emf

    refusal = time_travel_refused(now_text, allowed_on)
    if refusal:
        print(f"sla-sweep: {refusal}", file=sys.stderr)
        return 2
    now = None
    if now_text is not None:
        try:
            now = parse_iso(now_text)
        except ValueError:
            print(f"--now: not an ISO 8601 time with offset: {now_text!r}", file=sys.stderr)
            return 2
    runtime = _configured_runtime(stack)
    with emf.captured() as documents:
        report = runtime.sweeper.run(now)
        obs.flush()
    sent = emf.publish(documents, boto3.client("cloudwatch"))
    print(f"sla-sweep: {sent} metric data points sent to CloudWatch", file=sys.stderr)
    print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0


def report(args: argparse.Namespace, stack: Any) -> int:
    """The SLA report of the configured stack, read from its counters (never a scan)."""
    from chalicelib.domain.identity import Principal
    from chalicelib.errors import DomainError
    from chalicelib.reports import table

    params = {"from": args.start or "", "to": args.end or "", "by": args.by, "group": args.group}
    operator = Principal(sub="cli", email=None, groups=frozenset({"staff"}))
    try:
        found = _configured_runtime(stack).reports.report(operator, params)
    except DomainError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    print(json.dumps(found, ensure_ascii=False) if args.json else table(found))
    return 0


def reindex(stack: Any) -> int:
    """Requests stored before the `StaffQueue` and `ByContact` indexes, placed in them;
    the gauge counted per deadline shard; the maintenance windows' clocks owed."""
    from chalicelib.storage.ticket_items import DynamoTickets

    runtime = _configured_runtime(stack)
    tickets = runtime.store.tickets
    if not isinstance(tickets, DynamoTickets):
        print("reindex: only a DynamoDB store has indexes", file=sys.stderr)
        return 2

    def progress(count: int) -> None:
        print(f"reindex: {count} requests so far", file=sys.stderr, flush=True)

    reindexed = tickets.reindex(progress)
    print(json.dumps({"reindexed": reindexed, "window_clocks": runtime.board.clock_windows()}))
    return 0


_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600}
_UNIT_SECONDS.update({"d": 86400, "day": 86400, "days": 86400})
_PART = re.compile(r"(\d{1,6})\s*(days|day|d|hours|hour|h|min|m|sec|s)")


def time_from_now(offset: str, now: datetime | None = None) -> str:
    """`+3h`, `-15min`, `-5m`, `+1h50m`, `+2d`, `now`: that time in ISO 8601 (UTC)."""
    now = now or datetime.now(UTC)
    text = offset.strip().lower()
    if text == "now":
        return now.isoformat(timespec="seconds")
    sign, rest = text[:1], text[1:].strip()
    parts = _PART.findall(rest)
    if sign not in "+-" or not sign or not parts or _PART.sub("", rest).strip():
        raise ValueError(f"not an offset like +3h, +61min, -5m or +1h50m: {offset!r}")
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)
    return (now + timedelta(seconds=seconds if sign == "+" else -seconds)).isoformat(
        timespec="seconds"
    )


def main(argv: list[str] | None = None) -> int:
    from devtools.stack import add_stack_arguments, resolve

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dev-time"] and len(argv) == 2 and argv[1].startswith("-"):
        argv = ["dev-time", "--", argv[1]]  # `-5m` is an offset, not an option
    parser = argparse.ArgumentParser(prog="python -m chalicelib")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify JSONL requests")
    classify.add_argument("file", nargs="?", default="-")
    parse_email = commands.add_parser("parse-email", help="describe .eml files as JSON lines")
    parse_email.add_argument("files", nargs="+")
    parse_email.add_argument("--domain", default="support.hosting.example")
    local = {
        "dev": "run the local stack (moto, the API, the workers) until Ctrl-C",
        "dev-url": "print the local API's base URL",
        "dev-token": "print an IdToken of the local stack (the user is created on first use)",
        "dev-secret": "print the local chat webhook secret",
        "dev-sign": "print the X-Signature of a body (stdin or FILE) with the local secret",
        "replay": "push mail, requests or a chat export through the local stack; report",
        "corrections": "staff scope corrections as labelled JSONL (for bench/)",
        "sla-sweep": "run one SLA sweep and print what changed",
        "reindex": "put stored requests in the queue and lookup indexes (after an upgrade)",
        "report": "print the SLA report (R2) as a table, or --json",
        "metrics": "sum the local stack's metrics by name and dimensions over a window",
    }
    sub = {
        name: commands.add_parser(name, help=text, description=text) for name, text in local.items()
    }
    for command in sub.values():
        add_stack_arguments(command)
    sub["dev-token"].add_argument("--email", required=True)
    sub["dev-token"].add_argument("--staff", action="store_true")
    sub["dev-token"].add_argument("--name", help="the account's name (shown to colleagues)")
    sub["dev-sign"].add_argument("file", nargs="?", default="-")
    sub["replay"].add_argument("path", nargs="?", default=".")
    sub["replay"].add_argument("--api", default=None, help="the API's URL (default: the stack's)")
    sub["replay"].add_argument(
        "--dlq", action="store_true", help="re-drive the mail dead-letter queue"
    )
    sub["sla-sweep"].add_argument("--now", help="ISO 8601 time with offset (default: now)")
    sub["metrics"].add_argument("--since", default="15m", help="the window: 30s, 15m, 2h")
    sub["sla-sweep"].add_argument(
        "--time-travel-on", help="the deployed table's name: allows --now outside the local stack"
    )
    sub["report"].add_argument(
        "--from", dest="start", help="first day, 2026-11-24 (default: 6 days ago)"
    )
    sub["report"].add_argument("--to", dest="end", help="last day (default: today)")
    sub["report"].add_argument("--by", choices=("day", "week"), default="day")
    sub["report"].add_argument("--group", choices=("channel", "label", "agent"), default="channel")
    sub["report"].add_argument("--json", action="store_true", help="the API's JSON instead")
    publish = commands.add_parser(
        "publish-console", help="upload the staff console to a deployed stack (after a deploy)"
    )
    publish.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    dev_time = commands.add_parser("dev-time", help="print a time from now: +3h, +61min, -5m, now")
    dev_time.add_argument("offset")
    args = parser.parse_args(argv)

    if args.command == "classify":
        if args.file == "-":
            return classify_lines(sys.stdin, sys.stdout, sys.stderr)
        with open(args.file, encoding="utf-8") as handle:
            return classify_lines(handle, sys.stdout, sys.stderr)
    if args.command == "parse-email":
        from pathlib import Path

        from devtools.offline import describe

        for name in args.files:
            print(json.dumps(describe(Path(name), args.domain), ensure_ascii=False))
        return 0
    if args.command == "publish-console":
        from devtools.publish_console import publish_stack

        for key in publish_stack(args.stack):
            print(f"published {key}")
        return 0
    if args.command == "dev-time":
        try:
            print(time_from_now(args.offset))
        except ValueError as error:
            print(f"dev-time: {error}", file=sys.stderr)
            return 2
        return 0
    stack = resolve(args.port, args.aws_port)
    # A command's output is its report; EMF metric lines would only be noise on stdout.
    # A sweep's metrics are sent to CloudWatch instead (`sla_sweep`).
    if args.command != "sla-sweep":
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.command == "dev":
        from pathlib import Path

        from devtools.resources import REPO
        from devtools.server import serve

        os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)  # the stack shows them as Lambda would
        sys.path.insert(0, str(Path(REPO)))
        return serve(stack)
    if args.command == "dev-url":
        print(stack.api_url)
        return 0
    if args.command == "dev-token":
        from devtools.server import dev_token

        print(dev_token(args.email, args.staff, stack.aws_port, args.name))
        return 0
    if args.command in ("dev-secret", "dev-sign"):
        from devtools.server import dev_secret

        secret = dev_secret(stack.aws_port)
        if args.command == "dev-secret":
            print(secret)
            return 0
        if args.file == "-":
            body = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as handle:
                body = handle.read()
        print("sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
        return 0
    if args.command == "replay":
        from pathlib import Path

        from devtools.replay import replay as run_replay

        return run_replay(
            Path(args.path), stack=stack, api=args.api or stack.api_url, dead_letters=args.dlq
        )
    if args.command == "corrections":
        return export_corrections(stack)
    if args.command == "sla-sweep":
        return sla_sweep(args.now, stack, args.time_travel_on)
    if args.command == "metrics":
        from devtools import local_metrics

        try:
            window = local_metrics.parse_since(args.since)
        except ValueError as error:
            print(f"metrics: {error}", file=sys.stderr)
            return 2
        path = local_metrics.metrics_file(stack.api_port, stack.aws_port)
        return local_metrics.show(path, window)
    if args.command == "reindex":
        return reindex(stack)
    if args.command == "report":
        return report(args, stack)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
