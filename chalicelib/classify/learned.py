"""The learned part of the classifier: a linear model over the rules' verdicts and words.

Features of one request (all binary, all strings, computed here for training and for
judging alike):
- `r:<label>` / `r:<label>:<sub>`: a label's rules fire (every label, not only the first);
  `d:<label>`: the label the rules' priority order gives (`d:none` when none fires);
- `v:<label>`: a label's patterns matched but their context vetoed them;
- `c:<set>`: a cue set of rules.json has a hit (failure words, a service, a how-to, ...);
- `w:<stem>`: the words of the request's own text (adjacent pairs of words were tried
  and cross-validated worse, at three times the weights); `n:<size>`: how many words.

The weights are data (`model.json`), fitted by `make train` (devtools/train_classifier.py)
on the training part of tests/data/classify. A decision's explanation is the features
that weighed most for the label, each shown with the words of the request it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.classify.engine import CueSet, Decision, Document, Hit
from chalicelib.domain.tickets import Evidence

EXPLAIN = 3  # features shown as the evidence of a learned decision
_UNSHOWN = ("n:", "d:none", "v:")


def _size(count: int) -> str:
    for limit, name in ((3, "tiny"), (8, "short"), (25, "medium"), (80, "long")):
        if count <= limit:
            return name
    return "huge"


def features(
    doc: Document,
    sets: Mapping[str, CueSet],
    fired: Sequence[Decision],
    vetoed: Iterable[str] = (),
) -> list[str]:
    found: dict[str, None] = {"d:" + (fired[0].label if fired else "none"): None}
    for label in vetoed:
        found["v:" + label] = None
    for decision in fired:
        found["r:" + decision.label] = None
        if decision.sub:
            found[f"r:{decision.label}:{decision.sub}"] = None
    for name in doc.sets_hit():
        if name in sets:
            found["c:" + name] = None
    for token in doc.tokens:
        found["w:" + token.stem] = None
    found["n:" + _size(len(doc.tokens))] = None
    return list(found)


def choose(
    scores: Mapping[str, float],
    fired: Sequence[Decision],
    vetoed: Iterable[str],
    margin: float,
) -> str:
    """The label: the model's best, except that a label the rules vetoed in context is
    never chosen, and the rules' own first label stands unless the model prefers another
    by more than `margin` (fitted with the weights: how far the rules are trusted)."""
    excluded = set(vetoed)
    allowed = {label: score for label, score in scores.items() if label not in excluded}
    if not allowed:
        allowed = dict(scores)
    best = max(allowed, key=lambda label: allowed[label])
    if fired and fired[0].label in allowed and allowed[fired[0].label] >= allowed[best] - margin:
        return fired[0].label
    return best


class LinearModel:
    """Multinomial logistic regression's decision function: bias + sum of weights."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.labels: tuple[str, ...] = tuple(data["labels"])
        self.bias: tuple[float, ...] = tuple(float(b) for b in data["bias"])
        self.weights: dict[str, tuple[float, ...]] = {
            feature: tuple(float(w) for w in row) for feature, row in data["weights"].items()
        }

    def scores(self, found: Iterable[str]) -> dict[str, float]:
        rows = [self.weights[f] for f in found if f in self.weights]
        columns = zip(self.bias, *rows, strict=True)
        return {label: sum(col) for label, col in zip(self.labels, columns, strict=True)}

    def best(self, found: Sequence[str], among: Iterable[str] | None = None) -> str | None:
        scores = self.scores(found)
        wanted = None if among is None else set(among)
        allowed = [label for label in self.labels if wanted is None or label in wanted]
        return max(allowed, key=lambda label: scores[label]) if allowed else None

    def reasons(self, found: Iterable[str], label: str) -> list[str]:
        """The features that weighed most for `label` against the runner-up labels."""
        index = self.labels.index(label)
        weighed = []
        for feature in found:
            if feature.startswith(_UNSHOWN):
                continue  # no words of the request to show for it
            row = self.weights.get(feature)
            if row is not None:
                margin = row[index] - max(w for i, w in enumerate(row) if i != index)
                if margin > 0:
                    weighed.append((-margin, feature))
        weighed.sort()
        return [feature for _, feature in weighed[:EXPLAIN]]


def explain(
    doc: Document,
    sets: Mapping[str, CueSet],
    fired: Sequence[Decision],
    label: str,
    rule: str,
    reasons: Sequence[str],
) -> tuple[Evidence, ...]:
    """Each reason as evidence with the words of the request it stands for."""
    evidence: list[Evidence] = []
    for feature in reasons:
        kind, _, value = feature.partition(":")
        cue = f"learned {feature}"
        if kind in {"r", "d"}:
            for decision in fired:
                if decision.label == value.partition(":")[0]:
                    evidence.extend(
                        Evidence("label", label, rule, f"{cue}: {e.cue}", e.field, e.match)
                        for e in decision.evidence
                    )
                    break
        elif kind == "c" and value in sets:
            hit: Hit = doc.hits(sets[value])[0]
            evidence.append(Evidence("label", label, rule, cue, hit.field, hit.match))
        elif kind == "w":
            for token in doc.tokens:
                if token.stem == value:
                    evidence.append(Evidence("label", label, rule, cue, token.field, token.surface))
                    break
    if not evidence:  # the label came from many small weights, none decisive alone
        evidence.append(Evidence("label", label, rule, "learned", "text", ""))
    return tuple(evidence)
