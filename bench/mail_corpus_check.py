"""Check the e-mail intake against ../shared/corpus (issues: inbound e-mail, real-world mail).

    .venv/bin/python bench/mail_corpus_check.py

- every machine-mail/*.eml must come out `machine`;
- every expectation in human-mail/expected.jsonl must hold;
- every expectation in outside-mail/*/expected.jsonl (real messages from 13 mail
  libraries' test suites; fields as in outside-mail/README.md) must hold, except the
  ones listed in DEVIATIONS with the reason the expectation does not apply to us.

No mail may crash. Prints a summary with the slowest mails and exits 1 on any miss.
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.offline import describe  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
DOMAIN = "support.hosting.example"

# (source/file, field) -> why our answer differs from the expectation on purpose.
DEVIATIONS = {
    ("php-mime-mail-parser/m0024.eml", "kind"): (
        "an ezmlm list post (`Mailing-List: ... run by ezmlm`, `Delivered-To: mailing list`): "
        "the corpus marks only DESIGN.md's list headers as machine, but an acknowledgement "
        "to a list address would mail every subscriber, so list traffic is never answered"
    ),
}


def _folded(text: str) -> str:
    return " ".join(text.split())


def check(expected: dict[str, Any], line: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field, problem) pairs where `line` misses `expected`."""
    problems = []
    kind = expected.get("kind")
    if kind is not None and (line["disposition"] == "machine") != (kind == "machine"):
        problems.append(("kind", f"{line['disposition']} ({line['reason']})"))
    if "from_addr" in expected and (line["from_addr"] or "") != expected["from_addr"]:
        problems.append(("from_addr", repr(line["from_addr"])))
    if "subject" in expected and _folded(line["subject"]) != _folded(expected["subject"]):
        problems.append(("subject", repr(line["subject"])[:120]))
    if "thread_tag" in expected and line["thread_tag"] != expected["thread_tag"]:
        problems.append(("thread_tag", repr(line["thread_tag"])))
    phrase = expected.get("text_contains")
    if phrase is not None and _folded(phrase) not in _folded(line["text"]):
        problems.append(("text_contains", repr(line["text"][:80])))
    if "attachments" in expected and sorted(line["attachments"]) != sorted(expected["attachments"]):
        problems.append(("attachments", str(line["attachments"])[:200]))
    label = (line["scope"] or {}).get("label")
    if "label" in expected and label != expected["label"]:
        problems.append(("label", str(label)))
    return problems


def run(path: Path) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    line = describe(path, DOMAIN, text_chars=None)
    return line, time.perf_counter() - start


def main() -> int:
    misses = 0
    timings: list[tuple[float, str]] = []

    machine = sorted((CORPUS / "machine-mail").glob("*.eml"))
    reasons: collections.Counter[str] = collections.Counter()
    machine_misses = 0
    for path in machine:
        line, seconds = run(path)
        timings.append((seconds, f"machine-mail/{path.name}"))
        if line["disposition"] != "machine":
            machine_misses += 1
            print(f"MISS machine-mail/{path.name}: {line['disposition']} {line['subject']!r}")
        else:
            reasons[str(line["reason"]).split(":")[0]] += 1
    misses += machine_misses
    print(f"machine-mail: {len(machine) - machine_misses}/{len(machine)} recognised as machine")
    for name, count in reasons.most_common():
        print(f"  {name:20} {count}")

    outside = sorted(p for p in (CORPUS / "outside-mail").iterdir() if p.is_dir())
    folders = [CORPUS / "human-mail", *outside]
    for folder in folders:
        checked = failed = 0
        for raw in (folder / "expected.jsonl").read_text().splitlines():
            expected = json.loads(raw)
            name = f"{folder.name}/{expected['file']}"
            try:
                line, seconds = run(folder / str(expected["file"]))
            except Exception as error:  # the check itself must report, not stop
                failed += 1
                print(f"CRASH {name}: {error!r}")
                continue
            timings.append((seconds, name))
            checked += len(expected) - 1
            problems = [
                (field, problem)
                for field, problem in check(expected, line)
                if (name.split("/", 1)[-1] if folder.name == "human-mail" else name, field)
                not in DEVIATIONS
            ]
            if problems:
                failed += 1
                print(f"MISS {name}: " + "; ".join(f"{f}: {p}" for f, p in problems))
        misses += failed
        print(f"{folder.name}: {checked} expectations checked, {failed} mails missed")
    for (name, field), reason in DEVIATIONS.items():
        print(f"deviation {name} {field}: {reason}")
    timings.sort(reverse=True)
    print(f"{len(timings)} mails; slowest:")
    for seconds, name in timings[:5]:
        print(f"  {seconds * 1000:8.1f} ms  {name}")
    print("result: " + ("every expectation met" if not misses else f"{misses} mails missed"))
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
