"""Finish the package where Chalice cannot: the template's replacements and the bundle's
bytecode.

    python infrastructure/finalize.py build/package/sam.json

Chalice's `--merge-template` merges dictionaries key by key, so a property that Chalice
writes as one intrinsic function (the SQS event's `Queue`, an `Fn::Sub` of the queue's
name) cannot be replaced by another (`Fn::GetAtt`) from the merge template: both keys
would survive. This step sets those few properties outright.

Chalice bundles source without bytecode, and Lambda's `/var/task` is read-only, so every
cold start would compile every module it imports (about 190 ms for this app and
Powertools, issue 29). This step adds each module's bytecode to `deployment.zip`, in the
file name the function's runtime looks for, as an unchecked-hash `.pyc` (PEP 552: used
without comparing it to the source's time stamp, which unzipping does not keep
reliably). It must be built by the function's Python version: a `.pyc` of another is
ignored, so the step refuses to write one.
"""

from __future__ import annotations

import compileall
import copy
import json
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

MAIL_EVENT = ("Resources", "OnMail", "Properties", "Events", "OnMailSqsEventSource")
REPLACEMENTS = {
    (*MAIL_EVENT, "Properties", "Queue"): {"Fn::GetAtt": ["MailQueue", "Arn"]},
}
TASK_ROOT = "/var/task"  # where Lambda unpacks the bundle: the paths tracebacks name


def finalize(path: Path) -> None:
    template = json.loads(path.read_text(encoding="utf-8"))
    for keys, value in REPLACEMENTS.items():
        node = template
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    path.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    runtimes = {
        resource["Properties"]["Runtime"]
        for resource in template["Resources"].values()
        if "Runtime" in resource.get("Properties", {})
    }
    bundle = path.parent / "deployment.zip"
    if bundle.exists():
        add_bytecode(bundle, runtimes)


def add_bytecode(bundle: Path, runtimes: set[str]) -> int:
    """Rewrite `bundle` with an unchecked-hash `.pyc` beside every `.py`; any bytecode it
    held (pip's, checked against time stamps the archive does not keep) is replaced. The
    number of modules compiled."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtimes != {here}:
        raise SystemExit(f"bytecode for {sorted(runtimes)} cannot be built by {here}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "src"
        rebuilt = Path(scratch) / "deployment.zip"
        with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(rebuilt, "w") as new:
            kept = [i.filename for i in old.infolist() if not i.filename.endswith(".pyc")]
            old.extractall(root, members=[name for name in kept if name.endswith(".py")])
            for name in kept:  # the same order, the same fixed dates
                info = old.getinfo(name)
                new.writestr(copy.copy(info), old.read(info), zipfile.ZIP_DEFLATED)
            compileall.compile_dir(
                root,
                quiet=2,
                ddir=TASK_ROOT,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            compiled = sorted(root.rglob("*.pyc"))
            for pyc in compiled:
                new.write(pyc, pyc.relative_to(root).as_posix(), zipfile.ZIP_DEFLATED)
        rebuilt.replace(bundle)
    return len(compiled)


if __name__ == "__main__":
    finalize(Path(sys.argv[1]))
