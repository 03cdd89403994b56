"""`make reliability`: every scenario in full, as one table."""

from __future__ import annotations

import argparse
import sys

from tests.reliability.harness import Row


def table(rows: list[Row]) -> str:
    head = (
        "scenario",
        "inputs",
        "stored",
        "duplicated",
        "lost",
        "5xx",
        "mistakes",
        "refused",
        "leaked",
        "s",
        "result",
    )
    lines = [
        (
            r.scenario,
            str(r.inputs),
            str(r.stored),
            str(r.duplicated),
            str(r.lost),
            str(r.http_5xx),
            str(r.mistakes),
            str(r.refused),
            str(r.leaked),
            f"{r.seconds:.1f}",
            "pass" if r.passed else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(x) for x in column) for column in zip(head, *lines, strict=True)]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in (head, *lines)
    ]
    for row in rows:
        out += [f"  {row.scenario}: {note}" for note in row.notes]
    return "\n".join(out)


def main() -> int:
    from tests.reliability import scenarios
    from tests.reliability.attacks import attack_rows

    parser = argparse.ArgumentParser(prog="make reliability")
    parser.add_argument("--quick", action="store_true", help="the short form make test runs")
    parser.add_argument("--only", help="one scenario by name")
    args = parser.parse_args()
    from tests.local.stack import running_stack

    rows = []
    chosen = [
        run for run in scenarios.ALL + scenarios.ON_A_STACK if args.only in (None, run.__name__)
    ]
    for run in (r for r in chosen if r in scenarios.ALL):
        rows.append(run(quick=args.quick))
        print(f"{rows[-1].scenario}: done in {rows[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    if args.only in (None, "attacks"):
        rows += attack_rows()
        print("attacks: done", file=sys.stderr, flush=True)
    on_stack = [r for r in chosen if r in scenarios.ON_A_STACK]
    if on_stack:
        with running_stack() as ports:
            for run in on_stack:
                rows.append(run(quick=args.quick, stack=ports))
                print(f"{rows[-1].scenario}: done", file=sys.stderr, flush=True)
    print(table(rows))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
