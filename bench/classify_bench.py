"""Classifier quality across writers, and speed (issues 17, 29, 30). Prints figures.

    .venv/bin/python bench/classify_bench.py [--heldout] [--misses] [--quick] [JSONL ...]

- Leave-one-writer-out on the training part (devtools/train_classifier.py): for each
  writer, the learned part fitted on every other writer's requests and scored on this
  writer's requests as written; the textbook n-gram baseline fitted on the same split
  beside it; the worst and the mean. This is the figure to tune against.
- Abuse (R6.2: the lexicon is not fitted): precision and recall on every writer's
  requests as written, training part.
- `--heldout`: the held-out part (a fifth of every writer, the project's `heldout-*`
  files), read by the committed model, the baseline fitted on the whole training part
  beside it, aggregate figures per writer only. Read it once, at the end of a piece of
  work: a figure one tunes against stops measuring anything.
- Throughput on one core: the training part's requests, and a realistic 4 KB mail body
  (Russian text, a pasted nginx log, a signature, a quote), with the time per request
  as the body doubles (linear: each ratio near 2).
- Any JSONL given (a staff corrections export): label figures for it, misses with
  `--misses`.
`--quick` skips the rotation (the test suite runs the bench that way).
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
from devtools import classify_data, train_classifier  # noqa: E402

training = train_classifier

Row = dict


def load(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _predict(rows: list[Row]) -> list[tuple[str, str | None, bool]]:
    out = []
    for row in rows:
        scope, _ = classify_request(row.get("subject", ""), row["text"], row["channel"])
        out.append((scope.label, scope.sub, "abusive" in scope.flags))
    return out


def abuse_figures(rows: list[Row], flagged: list[bool]) -> str:
    tp = sum(f and bool(r.get("abusive")) for r, f in zip(rows, flagged, strict=True))
    fp = sum(f and not r.get("abusive") for r, f in zip(rows, flagged, strict=True))
    fn = sum((not f) and bool(r.get("abusive")) for r, f in zip(rows, flagged, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return f"abusive precision {precision:.3f} recall {recall:.3f} (tp={tp} fp={fp} fn={fn})"


def rotation() -> None:
    rows = classify_data.load("train")
    items = training.featurise(rows)
    table = training.writers_table(rows, items)
    print("== leave-one-writer-out (training part; scored on each writer's requests as written)")
    print(f"{'writer':<10}{'requests':>9}{'product':>9}{'baseline':>10}")
    for writer, (count, figure) in table["product"].items():
        base = table["baseline"][writer][1]
        mark = "" if figure > base else "   <- not above the baseline"
        print(f"{writer:<10}{count:>9}{figure:>9.3f}{base:>10.3f}{mark}")
    for name, pick in (("worst", min), ("mean", statistics.mean)):
        product = pick(f for _, f in table["product"].values())
        base = pick(f for _, f in table["baseline"].values())
        print(f"{name:<19}{product:>9.3f}{base:>10.3f}")


def abuse_by_writer() -> None:
    rows = [r for r in classify_data.load("train") if not r.get("dressed")]
    flagged = [abusive for _, _, abusive in _predict(rows)]
    print("== abuse (R6.2), training part as written")
    for writer in classify_data.writers(rows):
        mine = [i for i, r in enumerate(rows) if r["writer"] == writer]
        print(f"{writer:<10}", abuse_figures([rows[i] for i in mine], [flagged[i] for i in mine]))
    print(f"{'all':<10}", abuse_figures(rows, flagged))


def heldout() -> None:
    train = classify_data.load("train")
    rows = [r for r in classify_data.load("heldout") if not r.get("dressed")]
    everything = train + rows
    test = list(range(len(train), len(everything)))
    base = training.baseline(everything)(list(range(len(train))), test)
    predicted = _predict(rows)
    print("== held-out part, as written (read once; aggregate figures only)")
    print(f"{'writer':<10}{'requests':>9}{'product':>9}{'baseline':>10}")
    for writer in [*classify_data.writers(rows), "all"]:
        mine = [i for i, r in enumerate(rows) if writer in {"all", r["writer"]}]
        expected = [rows[i]["label"] for i in mine]
        product = training.macro_f1(expected, [predicted[i][0] for i in mine])
        baseline = training.macro_f1(expected, [base[i] for i in mine])
        print(f"{writer:<10}{len(mine):>9}{product:>9.3f}{baseline:>10.3f}")
    print(f"{'':<10}", abuse_figures(rows, [abusive for _, _, abusive in predicted]))


def evaluate(name: str, rows: list[Row], show_misses: bool) -> None:
    predicted = _predict(rows)
    expected = [r["label"] for r in rows]
    labels = [p[0] for p in predicted]
    right = sum(a == b for a, b in zip(expected, labels, strict=True))
    print(f"== {name}: {len(rows)} requests")
    f1 = training.macro_f1(expected, labels)
    print(f"label accuracy {right / len(rows):.3f}, macro-F1 {f1:.3f}")
    print(abuse_figures(rows, [p[2] for p in predicted]))
    confusion = Counter(zip(expected, labels, strict=True))
    for (want, got), count in sorted(confusion.items()):
        if want != got:
            print(f"  {want} taken for {got}: {count}")
    for row, (label, sub, _) in zip(rows, predicted, strict=True):
        if show_misses and (label, sub) != (row["label"], row.get("sub")):
            print("  miss:", row["id"], row["label"], row.get("sub"), label, sub)


LOG_LINE = (
    '203.0.113.{n} - - [04/Dec/2026:10:{m:02d}:11 +0000] "GET /catalog/item-{n}.html HTTP/1.1" '
    '502 166 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"\n'
)


def mail_body(size: int) -> str:
    """A realistic mail of about `size` bytes: a complaint, a pasted log, a signature,
    a quoted earlier message."""
    head = (
        "Здравствуйте! С утра сайт магазина отдаёт 502 Bad Gateway на половине страниц, "
        "клиенты не могут оформить заказ. Вот кусок лога nginx:\n\n"
    )
    tail = (
        "\nПосмотрите, пожалуйста, что с сервером.\n\n--\nС уважением, Ирина\n"
        "интернет-магазин www.tovary-dlya-doma.ru\n\n"
        "> 30.11.2026, 14:05, Техподдержка пишет:\n> Проверили, сервер работает.\n"
    )
    lines = []
    n = 0
    while len(head) + len(tail) + sum(len(line) for line in lines) < size:
        lines.append(LOG_LINE.format(n=n % 250, m=n % 60))
        n += 1
    return head + "".join(lines) + tail


def _rate(texts: list[tuple[str, str]], rounds: int) -> tuple[float, float]:
    for subject, text in texts:  # warm: rules compiled, words remembered
        classify_request(subject, text, "email")
    per_round = []
    for _ in range(rounds):
        begin = time.perf_counter()
        for subject, text in texts:
            classify_request(subject, text, "email")
        per_round.append(len(texts) / (time.perf_counter() - begin))
    return max(per_round), statistics.median(per_round)


def speed(rows: list[Row], rounds: int = 8) -> None:
    """The best round is the machine's speed; the median says how much noise there was."""
    texts = [(r.get("subject", ""), r["text"]) for r in rows]
    best, median = _rate(texts, rounds)
    print(f"== speed (one core, {rounds} rounds)")
    print(f"throughput         {best:,.0f} requests/s best round, {median:,.0f} median", end="")
    print(f" ({len(rows)} requests)")
    # Distinct bodies, so no cache answers for a whole text.
    body = mail_body(4096)
    bodies = [("Сайт не работает", body.replace("Ирина", f"Ирина {i}")) for i in range(50)]
    best, median = _rate(bodies, rounds)
    print(f"4 KB mail body     {best:,.0f} requests/s best round, {median:,.0f} median")
    print("time per request as the body doubles")
    previous = None
    for size in (4096, 8192, 16384, 32768, 65536):
        body = mail_body(size)
        classify_request("Сайт не работает", body, "email")
        begin = time.perf_counter()
        for _ in range(20):
            classify_request("Сайт не работает", body, "email")
        each = (time.perf_counter() - begin) / 20
        ratio = f"{each / previous:.2f}" if previous else "-"
        print(f"  {size // 1024:>3} KB  {each * 1e3:7.2f} ms  x{ratio}")
        previous = each


def main(argv: list[str]) -> int:
    flags = {a for a in argv if a.startswith("--")}
    paths = [Path(p) for p in argv if not p.startswith("--")]
    if paths:
        for path in paths:
            evaluate(path.name, load(path), "--misses" in flags)
        speed([row for path in paths for row in load(path)])
        return 0
    if "--quick" not in flags:
        rotation()
    abuse_by_writer()
    if "--heldout" in flags:
        heldout()
    speed([r for r in classify_data.load("train") if not r.get("dressed")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
