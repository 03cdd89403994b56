"""Classifier quality and speed (issue 17). Prints figures; asserts nothing.

    .venv/bin/python bench/classify_bench.py [--misses] [JSONL ...]

Defaults to the held-out part of the labelled requests (tests/data/classify/heldout.jsonl:
written requests never tuned on, each also in a dressed copy; see
devtools/classify_data.py), its written requests alone, and, for comparison, the
training part the model is fitted on. For each set it prints label accuracy, macro-F1
and per-label precision, recall and F1, the confusion matrix, sub-label accuracy, abusive
and needs_details precision and recall; then throughput. Misses are printed only with
`--misses`: reading the held-out part's misses is how one starts tuning on it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.classify import classify_request  # noqa: E402

LABELS = [
    "outage",
    "maintenance",
    "free_admin",
    "paid_admin",
    "out_of_scope",
    "consultation",
    "unclear",
]
DATA = ROOT / "tests" / "data" / "classify"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(name: str, rows: list[dict], show_misses: bool) -> None:
    confusion: Counter[tuple[str, str]] = Counter()
    sub_total = sub_right = label_right = 0
    tp = fp = fn = 0
    nd_tp = nd_fp = nd_fn = 0  # needs_details, expected exactly on `unclear` requests
    misses = []
    for row in rows:
        scope, _ = classify_request(row.get("subject", ""), row["text"], row["channel"])
        confusion[(row["label"], scope.label)] += 1
        if row.get("sub"):
            sub_total += 1
            sub_right += scope.label == row["label"] and scope.sub == row["sub"]
            label_right += scope.label == row["label"]
        flagged = "abusive" in scope.flags
        expected_abusive = bool(row.get("abusive"))
        tp += flagged and expected_abusive
        fp += flagged and not expected_abusive
        fn += (not flagged) and expected_abusive
        asked = "needs_details" in scope.flags
        unclear = row["label"] == "unclear"
        nd_tp += asked and unclear
        nd_fp += asked and not unclear
        nd_fn += (not asked) and unclear
        if scope.label != row["label"] or (row.get("sub") and scope.sub != row["sub"]):
            misses.append((row["id"], row["label"], row.get("sub"), scope.label, scope.sub))
    total = len(rows)
    accuracy = sum(v for (want, got), v in confusion.items() if want == got) / total
    f1s = []
    per_label = []
    for label in LABELS:
        t = confusion[(label, label)]
        p_den = sum(v for (_, got), v in confusion.items() if got == label)
        r_den = sum(v for (want, _), v in confusion.items() if want == label)
        if r_den == 0 and p_den == 0:
            continue
        precision = t / p_den if p_den else 0.0
        recall = t / r_den if r_den else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_label.append((label, precision, recall, f1, r_den))
    print(f"== {name}: {total} requests")
    print(f"label accuracy     {accuracy:.3f}")
    print(f"label macro-F1     {statistics.mean(f1s):.3f}")
    if sub_total:
        print(f"sub-label accuracy {sub_right / sub_total:.3f} ({sub_right}/{sub_total})")
        where = sub_right / label_right if label_right else 0.0
        print(f"  where the label is right {where:.3f} ({sub_right}/{label_right})")
    ab_p = tp / (tp + fp) if tp + fp else 1.0
    ab_r = tp / (tp + fn) if tp + fn else 1.0
    print(f"abusive precision  {ab_p:.3f}   recall {ab_r:.3f}   (tp={tp} fp={fp} fn={fn})")
    nd_p = nd_tp / (nd_tp + nd_fp) if nd_tp + nd_fp else 1.0
    nd_r = nd_tp / (nd_tp + nd_fn) if nd_tp + nd_fn else 1.0
    print(f"needs_details P    {nd_p:.3f}   recall {nd_r:.3f}   (tp={nd_tp} fp={nd_fp} fn={nd_fn})")
    print(f"{'label':<14}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>5}")
    for label, precision, recall, f1, n in per_label:
        print(f"{label:<14}{precision:>10.3f}{recall:>8.3f}{f1:>7.3f}{n:>5}")
    width = 13
    print("confusion (rows: expected, columns: predicted)")
    print(" " * width + "".join(label[: width - 1].rjust(width) for label in LABELS))
    for want in LABELS:
        cells = "".join(str(confusion[(want, got)]).rjust(width) for got in LABELS)
        print(want.ljust(width) + cells)
    for miss in misses if show_misses else ():
        print("  miss:", *miss)


def speed(rows: list[dict], rounds: int = 8) -> None:
    """Rounds over every request; a shared VM's neighbours slow some rounds down, so the
    best round is the machine's speed and the median says how much noise there was."""
    for row in rows:  # warm: rules compiled, stems cached
        classify_request(row.get("subject", ""), row["text"], row["channel"])
    latencies = []
    per_round = []
    for _ in range(rounds):
        begin = time.perf_counter()
        for row in rows:
            start = time.perf_counter()
            classify_request(row.get("subject", ""), row["text"], row["channel"])
            latencies.append(time.perf_counter() - start)
        per_round.append(len(rows) / (time.perf_counter() - begin))
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"== speed (one core, {rounds} rounds of {len(rows)} requests)")
    best, median = max(per_round), statistics.median(per_round)
    print(f"throughput         {best:,.0f} requests/s best round, {median:,.0f} median")
    print(f"latency p50 {latencies[len(latencies) // 2] * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us")


def main(argv: list[str]) -> int:
    show_misses = "--misses" in argv
    paths = [Path(p) for p in argv if p != "--misses"]
    if paths:
        sets = [(path.name, load(path)) for path in paths]
    else:
        heldout = load(DATA / "heldout.jsonl")
        sets = [
            ("held-out part", heldout),
            (
                "held-out part, as written (no dressed copies)",
                [r for r in heldout if not r.get("dressed")],
            ),
            ("held-out part, dressed copies only", [r for r in heldout if r.get("dressed")]),
            ("training part (fitted on: not a measure of quality)", load(DATA / "train.jsonl")),
        ]
    everything: list[dict] = []
    for name, rows in sets:
        everything += rows
        evaluate(name, rows, show_misses)
    start = time.perf_counter()
    classify_request("warm", "up", "cabinet")
    print(f"first call (rules compiled) {1000 * (time.perf_counter() - start):.1f} ms")
    speed(everything)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
