"""Check the e-mail intake against ../shared/corpus (issue: inbound e-mail).

    .venv/bin/python bench/mail_corpus_check.py

Every machine-mail/*.eml must come out `machine`; every expectation in
human-mail/expected.jsonl must hold. Prints a summary and exits 1 on any miss.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.intake.mail.offline import describe  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def main() -> int:
    failures = 0
    machine = sorted((CORPUS / "machine-mail").glob("*.eml"))
    reasons: collections.Counter[str] = collections.Counter()
    for path in machine:
        line = describe(path, "support.hosting.example")
        if line["disposition"] != "machine":
            failures += 1
            print(f"MISS {path.name}: {line['disposition']} {line['subject']!r}")
        else:
            reasons[str(line["reason"]).split(":")[0]] += 1
    print(f"machine-mail: {len(machine) - failures}/{len(machine)} recognised as machine")
    for name, count in reasons.most_common():
        print(f"  {name:20} {count}")
    human_failures = 0
    expectations = (CORPUS / "human-mail" / "expected.jsonl").read_text().splitlines()
    for raw in expectations:
        expected = json.loads(raw)
        line = describe(CORPUS / "human-mail" / expected["file"], "support.hosting.example")
        problems = []
        if (line["disposition"] == "machine") != (expected["kind"] == "machine"):
            problems.append(f"kind: {line['disposition']} ({line['reason']})")
        for field in ("from_addr", "subject", "thread_tag"):
            if field in expected and line[field] != expected[field]:
                problems.append(f"{field}: {line[field]!r}")
        if "text_contains" in expected and expected["text_contains"] not in line["text"]:
            problems.append(f"text: {line['text'][:80]!r}")
        if "attachments" in expected and line["attachments"] != expected["attachments"]:
            problems.append(f"attachments: {line['attachments']}")
        if "label" in expected and (line["scope"] or {}).get("label") != expected["label"]:
            problems.append(f"label: {(line['scope'] or {}).get('label')}")
        if problems:
            human_failures += 1
            print(f"MISS {expected['file']}: {'; '.join(problems)}")
    print(f"human-mail: {len(expectations) - human_failures}/{len(expectations)} expectations hold")
    return 1 if failures or human_failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
