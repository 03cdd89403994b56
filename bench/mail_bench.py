"""E-mail intake speed, growth and memory (issue: real-world mail). Prints; asserts nothing.

    .venv/bin/python bench/mail_bench.py

1. Per-mail time, p50 / p99 / max, over every mail of ../shared/corpus (machine, human
   and outside mail) plus generated mails with attachments of 100 KB, 300 KB, 1 MB,
   5 MB, 25 MB and 40 MB (the SES limit):
   - intake: `parse_mail`, the machine-mail filters and the classifier, as the Lambda
     runs them (no AWS calls);
   - stdlib: `email.message_from_bytes(policy=default)`, `get_body()` and `get_content()`
     of the body and of every attachment.
   Targets: max <= 2 s per mail; intake p99 <= 1.5x the stdlib's.
2. Growth: for each shape of input a hostile or ordinary mail can take, time as the size
   doubles; each step's ratio should stay <= 2 (linear), noise aside.
3. Peak memory (tracemalloc) of parsing the largest mails, as a multiple of their size.
   Target: <= 3x.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.classify import classify_request  # noqa: E402
from chalicelib.intake.mail.filters import machine_reason  # noqa: E402
from chalicelib.intake.mail.parse import parse_mail  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MB = 1024 * 1024
# The last: the largest attachment that fits SES's 40 MB limit once base64-encoded.
ATTACHMENT_SIZES = (100 * 1024, 300 * 1024, MB, 5 * MB, 25 * MB, 29 * MB)
RUSSIAN = "Здравствуйте! Сайт не открывается, в логах ошибка 502 от nginx. "


def intake(raw: bytes) -> None:
    mail = parse_mail(raw)
    if machine_reason(mail) is None:
        classify_request(mail.subject, mail.text, "email")


def stdlib(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()
        for part in message.iter_attachments():
            part.get_content()
    except Exception:  # the stdlib's own failures are its figures, not ours
        return


def with_attachment(size: int, name: str = "screenshot.png") -> bytes:
    message = EmailMessage()
    message["From"] = "Анна <anna@flowershop.example>"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = "Ошибка в панели, скриншот"
    message.set_content(RUSSIAN * 3)
    message.add_attachment(os.urandom(size), maintype="image", subtype="png", filename=name)
    return message.as_bytes()


def seconds(function: Callable[[bytes], None], raw: bytes, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function(raw)
        best = min(best, time.perf_counter() - start)
    return best


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def per_mail() -> None:
    mails = [(p.relative_to(CORPUS).as_posix(), p.read_bytes()) for p in CORPUS.rglob("*.eml")]
    mails += [
        (f"generated/{size // 1024} KB attachment", with_attachment(size))
        for size in ATTACHMENT_SIZES
    ]
    intake(mails[0][1]), stdlib(mails[0][1])
    ours = {name: seconds(intake, raw) for name, raw in mails}
    theirs = {name: seconds(stdlib, raw) for name, raw in mails}
    print(f"== per mail: {len(mails)} mails ({len(mails) - len(ATTACHMENT_SIZES)} from the corpus)")
    print(f"{'':8}{'p50':>10}{'p99':>10}{'max':>10}   slowest")
    for label, times in (("intake", ours), ("stdlib", theirs)):
        values = list(times.values())
        slowest = max(times, key=times.__getitem__)
        print(
            f"{label:8}{percentile(values, 0.5) * 1e3:8.2f}ms"
            f"{percentile(values, 0.99) * 1e3:8.1f}ms{max(values) * 1e3:8.0f}ms   {slowest}"
        )
    p99 = percentile(list(ours.values()), 0.99) / percentile(list(theirs.values()), 0.99)
    print(f"intake p99 / stdlib p99 = {p99:.2f}x (target <= 1.5x)")
    print(f"intake max = {max(ours.values()):.2f} s (target <= 2 s)")
    print("generated mails, intake vs stdlib:")
    for name, _ in mails[-len(ATTACHMENT_SIZES) :]:
        print(f"  {name:32} {ours[name] * 1e3:9.1f} ms {theirs[name] * 1e3:9.1f} ms")


def mixed(parts: list[str]) -> bytes:
    body = "".join(f"--B\r\n{part}\r\n" for part in parts)
    head = "From: a@shop.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    return (head + body + "--B--\r\n").encode()


def shapes() -> dict[str, Callable[[int], bytes]]:
    """Input shapes by size in bytes (roughly): ordinary ones and the known hostile ones."""
    head = b"From: a@shop.example\r\nSubject: s\r\n"
    return {
        "base64 attachment": lambda n: with_attachment(n),
        "five attachments": lambda n: mixed(
            ["Content-Type: text/plain\r\n\r\nСм. вложения"]
            + [
                f"Content-Type: image/png; name=s{i}.png\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(os.urandom(n // 7)).decode()
                for i in range(5)
            ]
        ),
        "8-bit Russian text": lambda n: head
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + (RUSSIAN * (n // 110 + 1)).encode(),
        "HTML body": lambda n: head
        + b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        + ("<div><p>" + RUSSIAN + "</p><br></div>").encode() * (n // 140 + 1),
        "one line, no spaces": lambda n: head + b"\r\n" + b"x" * n,
        "repeated cue words": lambda n: head
        + b"\r\n"
        + ("не работает сайт ошибка 502 mysql " * (n // 50 + 1)).encode(),
        "many small parts": lambda n: mixed(
            [f"Content-Type: text/plain; name=f{i}.txt\r\n\r\nx" for i in range(n // 60)]
        ),
        "encoded-word subject": lambda n: b"From: a@shop.example\r\nSubject: "
        + b" ".join([b"=?utf-8?q?=D0=B0?="] * (n // 19))
        + b"\r\n\r\nbody",
        "one huge header": lambda n: b"From: a@shop.example\r\nX-Junk: " + b"y" * n + b"\r\n\r\nb",
        "many header lines": lambda n: b"X-Junk: y\r\n" * (n // 11)
        + b"From: a@shop.example\r\nSubject: s\r\n\r\nb",
        "look-alike boundaries": lambda n: (
            "From: a@shop.example\r\n"
            + "".join(
                f"Content-Type: multipart/mixed; boundary={b}\r\n\r\n--{b}\r\n"
                for b in ("a" * (i + 1) for i in range(30))
            )
            + "\r\n"
            + ("--" + "a" * 40 + "x\r\n") * (n // 45)
        ).encode(),
        "empty parts": lambda n: b"From: a@shop.example\r\nContent-Type: multipart/mixed; "
        + b"boundary=B\r\n\r\n"
        + b"--B\r\n" * (n // 5),
        "deep nesting": lambda n: (
            "From: a@shop.example\r\n"
            + "".join(
                f"Content-Type: multipart/mixed; boundary=n{i}z\r\n\r\n--n{i}z\r\n"
                for i in range(n // 60)
            )
            + "\r\ntext\r\n"
        ).encode(),
    }


def growth() -> None:
    print("== growth: time as the input doubles (best of 5; ratio per doubling, target <= 2)")
    sizes = [256 * 1024 * 2**k for k in range(7)]  # 256 KB .. 16 MB
    worst = 0.0
    for name, make in shapes().items():
        times = [seconds(intake, make(size), repeat=5) for size in sizes]
        ratios = [b / a for a, b in itertools.pairwise(times) if a > 0]
        worst = max(worst, max(ratios))
        cells = " ".join(f"{t * 1e3:7.1f}" for t in times)
        print(f"  {name:22} ms: {cells}   ratios: {' '.join(f'{r:.2f}' for r in ratios)}")
    # The same doubling for the stdlib on the plainest shape: what the machine's memory
    # does to large buffers, for reading the ratios above.
    times = [seconds(stdlib, with_attachment(size), repeat=5) for size in sizes]
    ratios = [b / a for a, b in itertools.pairwise(times) if a > 0]
    cells = " ".join(f"{t * 1e3:7.1f}" for t in times)
    print(
        f"  {'(stdlib, attachment)':22} ms: {cells}   "
        f"ratios: {' '.join(f'{r:.2f}' for r in ratios)}"
    )
    print(f"  sizes: {', '.join(f'{s // 1024} KB' for s in sizes)}; worst ratio {worst:.2f}")


def memory() -> None:
    print("== peak memory while parsing (tracemalloc), as a multiple of the mail (target <= 3x)")
    for size in (25 * MB, 29 * MB):
        raw = with_attachment(size, "logs.tar.gz")
        tracemalloc.start()
        parsed = parse_mail(raw)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert parsed.attachments[0].size == size
        print(
            f"  {len(raw) / MB:5.1f} MiB mail: peak {peak / MB:6.1f} MiB = {peak / len(raw):.2f}x"
        )
        del raw, parsed
    text = with_attachment(0)[:-200] + (RUSSIAN * 300_000).encode()
    tracemalloc.start()
    parse_mail(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  {len(text) / MB:5.1f} MiB of text: peak {peak / MB:6.1f} MiB = {peak / len(text):.2f}x"
    )


def main() -> int:
    per_mail()
    growth()
    memory()
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cores; nothing asserted)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
