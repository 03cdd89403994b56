"""E-mail path speed and memory (issue: inbound e-mail). Prints figures; asserts nothing.

    .venv/bin/python bench/mail_bench.py

1. Time per message of the intake's parsing and machine-mail filtering on the corpus,
   against bare `email.message_from_bytes(policy=default)` + `get_body().get_content()`.
2. Peak Python memory (tracemalloc) parsing a mail with a 25 MB attachment, as a
   multiple of the mail's size.
"""

from __future__ import annotations

import email
import email.policy
import os
import sys
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.intake.mail.filters import machine_reason  # noqa: E402
from chalicelib.intake.mail.parse import parse_mail  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def bare(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        return body.get_content() if body is not None else ""
    except Exception:
        return ""


def ours(raw: bytes) -> str:
    mail = parse_mail(raw)
    machine_reason(mail)
    return mail.text


def timed(function, mails: list[bytes], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for raw in mails:
            function(raw)
    return (time.perf_counter() - start) / (rounds * len(mails))


def main() -> int:
    mails = [p.read_bytes() for p in sorted(CORPUS.glob("*-mail/*.eml"))]
    ours(mails[0]), bare(mails[0])
    baseline = timed(bare, mails, 5)
    intake = timed(ours, mails, 5)
    print(f"== corpus: {len(mails)} mails")
    print(f"bare email.message_from_bytes + get_body: {baseline * 1e6:,.0f} us per mail")
    print(f"intake parse + machine filters:          {intake * 1e6:,.0f} us per mail")
    print(f"ratio {intake / baseline:.2f}x (target <= 1.5x)")

    message = EmailMessage()
    message["From"] = "anna@flowershop.example"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = "Логи"
    message.set_content("Логи во вложении.")
    message.add_attachment(
        os.urandom(25 * 1024 * 1024), maintype="application", subtype="gzip", filename="logs.gz"
    )
    raw = message.as_bytes()
    del message
    tracemalloc.start()
    parsed = parse_mail(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = len(raw)
    print("== 25 MB attachment")
    print(
        f"mail size {size / 2**20:.1f} MiB, attachment {parsed.attachments[0].size / 2**20:.1f} MiB"
    )
    ratio = peak / size
    print(f"peak memory while parsing {peak / 2**20:.1f} MiB = {ratio:.2f}x the mail (target 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
