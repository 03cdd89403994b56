"""The learned part of the classifier: a linear model over the rules' verdicts and words.

Features of one request (all binary, all strings, computed here for training and for
judging alike):
- `r:<label>` / `r:<label>:<sub>`: a label's rules fire (every label, not only the first);
  `d:<label>`: the label the rules' priority order gives (`d:none` when none fires);
- `v:<label>`: a label's patterns matched but their context vetoed them;
- `c:<set>`: a cue set of rules.json has a hit (failure words, a service, a how-to, ...);
- `w:<stem>`: the words of the request's own text (adjacent pairs of words were tried
  and cross-validated worse, at three times the weights); `n:<size>`: how many words;
- `g:<chars>`: the character n-grams (GRAMS) of each distinct word of the request's own
  text, marked at its ends (`<ftp>`), counted over the distinct words and divided by the
  square root of their number (issue 30: typos, word forms and translit a new writer
  uses share n-grams with the words the model saw). A word's n-grams are weighed once
  and remembered, so a request costs one sum per distinct word.

The weights are data (`model.json`), fitted by `make train` (devtools/train_classifier.py)
on the training part of tests/data/classify, stored as one signed byte each (`scale`
turns them back into the fitted values) so the bundle stays small and the sums are of
integers. A decision's explanation is the features
that weighed most for the label, each shown with the words of the request it came from.
"""

from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.classify.engine import Decision, Document, Hit
from chalicelib.classify.text import remembered
from chalicelib.classify.vocabulary import CueSet
from chalicelib.domain.tickets import Evidence

EXPLAIN = 3  # features shown as the evidence of a learned decision
_UNSHOWN = ("n:", "d:none", "v:")
GRAMS = (2, 4)  # the sizes of a word's character n-grams


def grams(word: str) -> set[str]:
    """A word's character n-grams, the word marked at its ends: `ftp` gives `<f`, `ft`,
    ..., `tp>`, `<ft`, ..."""
    marked = f"<{word}>"
    low, high = GRAMS
    return {
        "g:" + marked[i : i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)
    }


def distinct_words(doc: Document) -> list[str]:
    """The distinct words whose n-grams a request is weighed by (its own text's words,
    and their Cyrillic reading when it is written in translit)."""
    return sorted({token.norm for token in doc.tokens if token.norm != "?"})


def gram_values(words: Sequence[str]) -> dict[str, float]:
    """The n-gram features of a request as the model is fitted on them: each n-gram's
    count over the distinct words, divided by the square root of their number."""
    counts: dict[str, int] = {}
    for word in words:
        for gram in grams(word):
            counts[gram] = counts.get(gram, 0) + 1
    norm = 1 / math.sqrt(len(words)) if words else 0.0
    return {gram: count * norm for gram, count in counts.items()}


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


# R6.4: a request of a few words that fires no rule and asks, requests or reports
# nothing ("SSL сертификат", "hosting") is a topic, not a question, whatever its words
# resemble; the model decides everything else.
VAGUE_WORDS = 3
ASKING_SETS = frozenset(
    {"question", "howto", "request_verbs", "help_verbs", "install_verb", "failure", "pay_words"}
)
VAGUE = "unclear"


def asks_nothing(doc: Document, fired: Sequence[Decision]) -> bool:
    return (
        not fired
        and len(doc.tokens) <= VAGUE_WORDS
        and not any(name in ASKING_SETS for name in doc.sets_hit())
    )


def choose(
    scores: Mapping[str, float],
    fired: Sequence[Decision],
    vetoed: Iterable[str],
    margin: float,
    vague: bool = False,
) -> str:
    """The label: the model's best, except that a label the rules vetoed in context is
    never chosen, nor `unclear` when a rule fired (R6.4: something actionable was
    found; leave-one-writer-out: 0.889 -> 0.897 on the worst writer), the rules' own
    first label stands unless the model prefers another by more than `margin` (how far
    the rules are trusted), and a vague request (`asks_nothing`) is `unclear`."""
    if vague and VAGUE in scores:
        return VAGUE
    excluded = set(vetoed)
    if fired:
        excluded.add(VAGUE)  # R6.4: a rule found something actionable
    allowed = {label: score for label, score in scores.items() if label not in excluded}
    if not allowed:
        allowed = dict(scores)
    best = max(allowed, key=lambda label: allowed[label])
    if fired and fired[0].label in allowed and allowed[fired[0].label] >= allowed[best] - margin:
        return fired[0].label
    return best


class LinearModel:
    """Multinomial logistic regression's decision function: bias + the weights of the
    features present + the n-gram weights of the distinct words (`gram_values`)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.labels: tuple[str, ...] = tuple(data["labels"])
        self.bias: tuple[float, ...] = tuple(float(b) for b in data["bias"])
        self.scale = float(data["scale"])
        self._index: dict[str, int] = {name: i for i, name in enumerate(data["features"])}
        self._weights = array("b", base64.b64decode(data["weights"]))
        self._width = len(self.labels)
        self._zero = (0,) * self._width
        self._words: dict[str, tuple[int, ...]] = {}
        self._rows: dict[str, tuple[int, ...] | None] = {}

    def row(self, feature: str) -> tuple[int, ...] | None:
        """A feature's weights, one per label, in units of `scale` (remembered: the
        features of requests repeat)."""
        return remembered(self._rows, feature, self._read_row, feature)

    def _read_row(self, feature: str) -> tuple[int, ...] | None:
        i = self._index.get(feature)
        if i is None:
            return None
        start = i * self._width
        return tuple(self._weights[start : start + self._width])

    def _word(self, word: str) -> tuple[int, ...]:
        """The sum of a word's n-gram weights (remembered per word)."""
        return remembered(self._words, word, self._sum_grams, word)

    def _sum_grams(self, word: str) -> tuple[int, ...]:
        rows = [row for row in map(self.row, grams(word)) if row is not None]
        return tuple(map(sum, zip(self._zero, *rows, strict=True)))

    def scores(self, found: Iterable[str], words: Sequence[str] = ()) -> dict[str, float]:
        plain = [row for row in map(self.row, found) if row is not None]
        sums: Iterable[float] = map(sum, zip(self._zero, *plain, strict=True))
        if words:
            spelled = map(sum, zip(self._zero, *map(self._word, words), strict=True))
            norm = 1 / math.sqrt(len(words))
            sums = (p + g * norm for p, g in zip(sums, spelled, strict=True))
        scale = self.scale
        return {
            label: bias + scale * total
            for label, bias, total in zip(self.labels, self.bias, sums, strict=True)
        }

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
            row = self.row(feature)
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
