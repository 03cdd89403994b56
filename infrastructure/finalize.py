"""Finish the packaged template where Chalice's deep merge cannot: replace, not merge.

    python infrastructure/finalize.py build/package/sam.json

Chalice's `--merge-template` merges dictionaries key by key, so a property that Chalice
writes as one intrinsic function (the SQS event's `Queue`, an `Fn::Sub` of the queue's
name) cannot be replaced by another (`Fn::GetAtt`) from the merge template: both keys
would survive. This step sets those few properties outright.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAIL_EVENT = ("Resources", "OnMail", "Properties", "Events", "OnMailSqsEventSource")
REPLACEMENTS = {
    (*MAIL_EVENT, "Properties", "Queue"): {"Fn::GetAtt": ["MailQueue", "Arn"]},
}


def finalize(path: Path) -> None:
    template = json.loads(path.read_text(encoding="utf-8"))
    for keys, value in REPLACEMENTS.items():
        node = template
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    path.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    finalize(Path(sys.argv[1]))
