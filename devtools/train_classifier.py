"""Fit the classifier's learned part (chalicelib/classify/model.json): `make train`.

    .venv/bin/python -m devtools.train_classifier [--check]

Reads the training part of tests/data/classify (devtools/classify_data.py; staff
corrections exported with `python -m chalicelib corrections` go into its written/
folder), computes each request's features with the classifier's own code
(chalicelib/classify/learned.py), picks the regularisation by cross-validation on the
training part only (folds keep a written request and its dressed copy together), fits
a multinomial logistic regression for the label and one for the sub-label, and writes
the weights as JSON. The held-out part is never read here. scikit-learn is a
development dependency only: the Lambda applies the weights with plain Python.
`--check` fits again and fails if the result differs from the committed file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from chalicelib.classify import SUBJECT_CHARS, TEXT_CHARS, Classifier, _load
from chalicelib.classify.engine import Decision
from chalicelib.classify.learned import choose
from devtools import classify_data

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "chalicelib" / "classify" / "model.json"
STRENGTHS = (0.1, 0.3, 1.0, 3.0, 10.0)  # C: inverse of the L2 penalty
MIN_ROWS = 2  # a feature seen in fewer training requests is dropped
DIGITS = 3
FOLDS = 5
MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


def rule_classifier() -> Classifier:
    return Classifier(_load("rules.json"), _load("abuse.json"), _load("kb.json"), model=None)


Judged = tuple[list[Decision], frozenset[str]]  # what the rules fired and vetoed


def featurise(rows: list[dict[str, Any]]) -> tuple[list[list[str]], list[Judged]]:
    classifier = rule_classifier()
    found, judged = [], []
    for row in rows:
        doc = classifier.document(row.get("subject", "")[:SUBJECT_CHARS], row["text"][:TEXT_CHARS])
        fired, vetoed = classifier.rules.fired(doc)
        found.append(classifier.features(doc, fired, vetoed))
        judged.append((fired, vetoed))
    return found, judged


def _fit(
    found: list[list[str]], targets: list[str], strength: float
) -> tuple[DictVectorizer, LogisticRegression]:
    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform([dict.fromkeys(f, 1) for f in found])
    model = LogisticRegression(C=strength, max_iter=5000, class_weight="balanced")
    model.fit(matrix, targets)
    return vectoriser, model


def out_of_fold(
    found: list[list[str]], targets: list[str], groups: list[str], strength: float
) -> list[dict[str, float]]:
    """Each request's scores from a model fitted without it (nor its dressed copy)."""
    scores: list[dict[str, float]] = [{} for _ in targets]
    for train, test in GroupKFold(n_splits=FOLDS).split(found, targets, groups):
        vectoriser, model = _fit([found[i] for i in train], [targets[i] for i in train], strength)
        matrix = vectoriser.transform([dict.fromkeys(found[i], 1) for i in test])
        for i, row in zip(test, model.decision_function(matrix), strict=True):
            scores[i] = {str(c): float(v) for c, v in zip(model.classes_, row, strict=True)}
    return scores


def choose_strength(
    found: list[list[str]], targets: list[str], groups: list[str]
) -> tuple[float, list[dict[str, float]]]:
    """The best regularisation by cross-validation, with its out-of-fold scores."""
    best: tuple[float, float, list[dict[str, float]]] = (-1.0, STRENGTHS[0], [])
    for strength in STRENGTHS:
        scores = out_of_fold(found, targets, groups, strength)
        predicted = [max(s, key=lambda label: s[label]) for s in scores]
        score = f1_score(targets, predicted, average="macro")
        print(f"  C={strength:<5} cross-validated macro-F1 {score:.3f}")
        if (score, strength) > best[:2]:
            best = (score, strength, scores)
    return best[1], best[2]


def choose_margin(
    scores: list[dict[str, float]], judged: list[Judged], targets: list[str]
) -> float:
    """How far the rules' first label is trusted over the model, by cross-validation."""
    best = (-1.0, 0.0)
    for margin in MARGINS:
        predicted = [choose(s, f, v, margin) for s, (f, v) in zip(scores, judged, strict=True)]
        score = f1_score(targets, predicted, average="macro")
        print(f"  rule margin {margin:<4} cross-validated macro-F1 {score:.3f}")
        best = max(best, (score, -margin))  # ties go to the smaller margin
    return -best[1]


def _export(vectoriser: DictVectorizer, model: LogisticRegression) -> dict[str, Any]:
    labels = [str(c) for c in model.classes_]
    coef = model.coef_
    bias = model.intercept_
    if len(labels) == 2:  # a binary model has one row: the second class's margin
        coef = [[-w / 2 for w in coef[0]], [w / 2 for w in coef[0]]]
        bias = [-bias[0] / 2, bias[0] / 2]
    names = vectoriser.get_feature_names_out()
    weights = {}
    for j, name in enumerate(names):
        row = [round(float(coef[k][j]), DIGITS) for k in range(len(labels))]
        if any(row):
            weights[str(name)] = row
    return {
        "labels": labels,
        "bias": [round(float(b), DIGITS) for b in bias],
        "weights": dict(sorted(weights.items())),
    }


def _frequent(found: list[list[str]]) -> list[list[str]]:
    counts: dict[str, int] = {}
    for features in found:
        for feature in features:
            counts[feature] = counts.get(feature, 0) + 1
    return [[f for f in features if counts[f] >= MIN_ROWS] for features in found]


def train() -> dict[str, Any]:
    rows = classify_data.load("train")
    found, judged = featurise(rows)
    found = _frequent(found)
    groups = [row["id"].removesuffix("+d") for row in rows]
    labels = [row["label"] for row in rows]
    print(f"label model: {len(rows)} training requests")
    strength, scores = choose_strength(found, labels, groups)
    margin = choose_margin(scores, judged, labels)
    label_model = _export(*_fit(found, labels, strength))
    with_sub = [i for i, row in enumerate(rows) if row.get("sub")]
    subs = [rows[i]["sub"] for i in with_sub]
    print(f"sub-label model: {len(with_sub)} training requests")
    sub_strength, _ = choose_strength(
        [found[i] for i in with_sub], subs, [groups[i] for i in with_sub]
    )
    sub_model = _export(*_fit([found[i] for i in with_sub], subs, sub_strength))
    return {
        "version": 1,
        "comment": "Fitted by devtools/train_classifier.py (make train); do not edit by hand.",
        "trained_on": len(rows),
        "strength": {"labels": strength, "subs": sub_strength},
        "rule_margin": margin,
        "labels": label_model,
        "subs": sub_model,
    }


def compare(committed: dict[str, Any], fitted: dict[str, Any]) -> list[str]:
    """What differs, allowing each weight one unit of its last digit (another machine's
    floating point can round the other way)."""
    out = []
    for key in ("trained_on", "strength", "rule_margin"):
        if committed[key] != fitted[key]:
            out.append(f"{key}: {committed[key]} != {fitted[key]}")
    tolerance = 1.5 * 10**-DIGITS
    for part in ("labels", "subs"):
        old, new = committed[part], fitted[part]
        if old["labels"] != new["labels"]:
            out.append(f"{part}: classes {old['labels']} != {new['labels']}")
            continue
        zero = [0.0] * len(new["labels"])
        rows = [("bias", old["bias"], new["bias"])] + [
            (f, old["weights"].get(f, zero), new["weights"].get(f, zero))
            for f in sorted(old["weights"].keys() | new["weights"].keys())
        ]
        for name, a, b in rows:
            if any(abs(x - y) > tolerance for x, y in zip(a, b, strict=True)):
                out.append(f"{part} {name}: {a} != {b}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if model.json is stale")
    args = parser.parse_args(argv)
    text = json.dumps(train(), ensure_ascii=False, separators=(",", ":")) + "\n"
    if args.check:
        differences = compare(json.loads(MODEL.read_text(encoding="utf-8")), json.loads(text))
        for difference in differences[:10]:
            print(difference)
        if differences:
            print("chalicelib/classify/model.json is out of date: run make train")
            return 1
        return 0
    MODEL.write_text(text, encoding="utf-8")
    print(f"{MODEL.relative_to(ROOT)}: {len(text):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
