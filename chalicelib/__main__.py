"""Command line: `python -m chalicelib <command>` (README, Command line)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
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


def _configured_runtime(aws_port: int | None) -> Any:
    """The runtime of the configured stack: the environment's, else the local one."""
    from chalicelib.config import Settings
    from chalicelib.runtime import build_runtime

    env: dict[str, str] = dict(os.environ)
    if "SUPPORT_TABLE_NAME" not in env:
        from chalicelib.devstack.server import DEFAULT_AWS_PORT, local_environment

        env = local_environment(aws_port or DEFAULT_AWS_PORT)
    return build_runtime(Settings.from_env(env))


def export_corrections(aws_port: int | None) -> int:
    """Corrected requests in the labelled format bench/classify_bench.py reads."""
    fields = ("id", "channel", "subject", "text", "label", "sub", "abusive", "classifier")
    for item in _configured_runtime(aws_port).store.corrections():
        print(json.dumps({k: item.get(k) for k in fields}, ensure_ascii=False))
    return 0


def sla_sweep(now_text: str | None, aws_port: int | None) -> int:
    """One sweep against the configured stack: the environment's, else the local one."""
    from chalicelib.timeutil import parse_iso

    now = None
    if now_text:
        try:
            now = parse_iso(now_text)
        except ValueError:
            print(f"--now: not an ISO 8601 time with offset: {now_text!r}", file=sys.stderr)
            return 2
    report = _configured_runtime(aws_port).sweeper.run(now)
    print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify JSONL requests")
    classify.add_argument("file", nargs="?", default="-")
    parse_email = commands.add_parser("parse-email", help="describe .eml files as JSON lines")
    parse_email.add_argument("files", nargs="+")
    parse_email.add_argument("--domain", default="support.hosting.example")
    dev = commands.add_parser("dev", help="run the local stack", add_help=False)
    dev.add_argument("rest", nargs=argparse.REMAINDER)
    token = commands.add_parser("dev-token", help="print an IdToken of the local stack")
    token.add_argument("--email", required=True)
    token.add_argument("--staff", action="store_true")
    token.add_argument("--aws-port", type=int, default=None)
    replay = commands.add_parser("replay", help="push mail or requests through the local stack")
    replay.add_argument("path", nargs="?", default=".")
    replay.add_argument("--api", default="http://127.0.0.1:8000")
    replay.add_argument("--aws-port", type=int, default=None)
    replay.add_argument("--dlq", action="store_true", help="re-drive the mail dead-letter queue")
    secret = commands.add_parser("dev-secret", help="print the local chat webhook secret")
    secret.add_argument("--aws-port", type=int, default=None)
    corrections = commands.add_parser(
        "corrections", help="staff scope corrections as labelled JSONL (for bench/)"
    )
    corrections.add_argument("--aws-port", type=int, default=None)
    sweep = commands.add_parser("sla-sweep", help="run one SLA sweep and print what changed")
    sweep.add_argument("--now", help="ISO 8601 time with offset (default: now)")
    sweep.add_argument("--aws-port", type=int, default=None)
    args = parser.parse_args(argv)

    if args.command == "classify":
        if args.file == "-":
            return classify_lines(sys.stdin, sys.stdout, sys.stderr)
        with open(args.file, encoding="utf-8") as handle:
            return classify_lines(handle, sys.stdout, sys.stderr)
    if args.command == "parse-email":
        from pathlib import Path

        from chalicelib.intake.mail.offline import describe

        for name in args.files:
            print(json.dumps(describe(Path(name), args.domain), ensure_ascii=False))
        return 0
    if args.command == "dev":
        from chalicelib.devstack.server import main_dev

        return main_dev(args.rest)
    if args.command == "dev-token":
        from chalicelib.devstack.server import DEFAULT_AWS_PORT, dev_token

        print(dev_token(args.email, args.staff, args.aws_port or DEFAULT_AWS_PORT))
        return 0
    if args.command == "replay":
        from pathlib import Path

        from chalicelib.devstack.replay import replay as run_replay
        from chalicelib.devstack.server import DEFAULT_AWS_PORT

        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        return run_replay(
            Path(args.path),
            api=args.api.rstrip("/"),
            aws_port=args.aws_port or DEFAULT_AWS_PORT,
            dead_letters=args.dlq,
        )
    if args.command == "dev-secret":
        from chalicelib.devstack.server import DEFAULT_AWS_PORT, dev_secret

        print(dev_secret(args.aws_port or DEFAULT_AWS_PORT))
        return 0
    if args.command == "corrections":
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        return export_corrections(args.aws_port)
    if args.command == "sla-sweep":
        # A command's output is its report; EMF lines would only be noise on stdout.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        return sla_sweep(args.now, args.aws_port)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
