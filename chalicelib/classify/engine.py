"""The rule engine: cues from data files matched on stemmed tokens, with evidence.

A cue is one or more words. A plain word matches any inflection (same stem); `word*`
matches tokens starting with `word`; `<code>` matches a 4xx/5xx status code;
`<imp>` matches a Russian polite imperative ("создайте", "исправьте"). The words
of a multi-word cue must follow each other (one stray word allowed between them).
A pattern fires when every group in `all` has a hit and, with `window`, the hits lie
within that many tokens; `unless` names groups whose presence anywhere disables it, and
`unless_near` groups that veto a match only within so many tokens of it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, KeysView, Mapping
from functools import partial
from typing import Any, NamedTuple

from chalicelib.classify.text import Token, tokenize_request
from chalicelib.classify.vocabulary import Cue, CueSet, Vocabulary
from chalicelib.domain.tickets import Evidence
from chalicelib.values import frozen

_GAP = 2  # positions between consecutive words of one cue
_MAX_SPAN = 64  # positions a cue's hit can span: words x _GAP, far above any cue


class Hit(NamedTuple):  # a tuple: documents make many, and tuples are cheap to make
    cue: str
    start: int
    end: int
    field: str
    match: str


@frozen
class Pattern:
    groups: tuple[CueSet, ...]
    window: int | None
    unless: tuple[str, ...]
    rule: str
    sub: str | None
    unless_near: tuple[tuple[str, int], ...] = ()  # scoped vetoes, as on a label
    needs: frozenset[str] = frozenset()  # the groups' names: all must have a hit


@frozen
class LabelRule:
    label: str
    rule: str
    patterns: tuple[Pattern, ...]
    pick: str  # "nearest" or "first"
    unless: tuple[str, ...]
    # Sets that veto a match only when one of their hits is within so many tokens of
    # it: "Outlook не отправляет письма" is the customer's PC, but it does not veto "и
    # сайт тоже не открывается" later in the same request.
    unless_near: tuple[tuple[str, int], ...] = ()


@frozen
class Decision:
    label: str
    sub: str | None
    rule: str
    evidence: tuple[Evidence, ...]


class Document:
    """One request, tokenised and indexed by feature, with cue hits memoised."""

    def __init__(self, subject: str, text: str, vocabulary: Vocabulary) -> None:
        self.tokens = tokenize_request(subject, text)
        self._by_position: dict[int, Token] = {}
        by_position = self._by_position
        self._index: dict[str, list[Token]] = {}
        self._features: dict[int, frozenset[str]] = {}
        starts = vocabulary.starts
        index = self._index
        known = self._features
        indexed = vocabulary.indexed
        present: set[str] = set()  # every feature of every word, to skip phrases at once
        for token in self.tokens:
            by_position[token.position] = token
            # only a cue's first word is looked up by feature
            features, starting = indexed(token)
            known[token.position] = features
            present.update(features)
            for feature in starting:
                if feature in index:
                    index[feature].append(token)
                else:
                    index[feature] = [token]
        # Every cue set's hits at once, sorted by start: judging reads them many times.
        found: dict[str, list[Hit]] = {}
        for feature in self._index:
            for name, cue in starts[feature]:
                if not present.issuperset(cue.features):
                    continue  # a phrase with a word the request does not have
                hits = list(self._cue_hits(cue))
                if hits:
                    found.setdefault(name, []).extend(hits)
        for hits in found.values():
            hits.sort(key=lambda h: h.start)
        self._hits = found
        self._starts: dict[str, list[int]] = {}

    def hits(self, cues: CueSet) -> list[Hit]:
        return self._hits.get(cues.name) or []

    def starts(self, cues: CueSet) -> list[int]:
        """The starts of the set's hits, in order (for bisection), made once per set."""
        known = self._starts.get(cues.name)
        if known is None:
            known = self._starts[cues.name] = [h.start for h in self.hits(cues)]
        return known

    def sets_hit(self) -> KeysView[str]:
        """The names of the cue sets with at least one hit."""
        return self._hits.keys()

    def _cue_hits(self, cue: Cue) -> Iterable[Hit]:
        first, rest = cue.features[0], cue.features[1:]
        if not rest:
            text, tokens = cue.text, self._index[first]
            return [Hit(text, t.position, t.position, t.field, t.surface) for t in tokens]
        return self._phrase_hits(cue, first, rest)

    def _phrase_hits(self, cue: Cue, first: str, rest: tuple[str, ...]) -> Iterable[Hit]:
        for token in self._index.get(first, ()):
            matched = [token]
            for feature in rest:
                nxt = self._follow(matched[-1].position, feature)
                if nxt is None:
                    break
                matched.append(nxt)
            else:
                yield Hit(
                    cue=cue.text,
                    start=matched[0].position,
                    end=matched[-1].position,
                    field=token.field,
                    match=" ".join(t.surface for t in matched),
                )

    def _follow(self, position: int, feature: str) -> Token | None:
        for step in range(1, _GAP + 1):
            token = self._by_position.get(position + step)
            if token is not None and feature in self._features[token.position]:
                return token
        return None


class RuleSet:
    """Label rules in SPEC.md priority order, compiled from rules.json."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.vocabulary = Vocabulary()
        self.sets: dict[str, CueSet] = {
            name: self.vocabulary.compile_set(name, cues) for name, cues in data["sets"].items()
        }
        self.labels = tuple(self._label(entry) for entry in data["labels"])
        self.fallback = data["fallback"]

    def _group(self, ref: str | list[str]) -> CueSet:
        if isinstance(ref, str):
            if ref not in self.sets:
                raise ValueError(f"rules.json: unknown cue set {ref!r}")
            return self.sets[ref]
        name = "|".join(ref)
        if name not in self.sets:
            self.sets[name] = self.vocabulary.compile_set(name, ref)
        return self.sets[name]

    def _label(self, entry: Mapping[str, Any]) -> LabelRule:
        patterns = []
        for p in entry["patterns"]:
            unless = tuple(p.get("unless", ()))
            for ref in unless:
                self._group(ref)
            groups = tuple(self._group(g) for g in p["all"])
            patterns.append(
                Pattern(
                    groups=groups,
                    needs=frozenset(g.name for g in groups),
                    window=p.get("window"),
                    unless=unless,
                    rule=p.get("rule", entry["rule"]),
                    sub=p.get("sub"),
                    unless_near=self._near(p),
                )
            )
        return LabelRule(
            label=entry["label"],
            rule=entry["rule"],
            patterns=tuple(patterns),
            pick=entry.get("pick", "first"),
            unless=tuple(entry.get("unless", ())),
            unless_near=self._near(entry),
        )

    def document(self, subject: str, text: str) -> Document:
        return Document(subject, text, self.vocabulary)

    def _near(self, entry: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
        return tuple((self._group(g).name, int(n)) for g, n in entry.get("unless_near", {}).items())

    def _vetoed(self, doc: Document, vetoes: tuple[tuple[str, int], ...], hits: list[Hit]) -> bool:
        return any(
            _close(hits, doc.hits(self.sets[name]), doc.starts(self.sets[name]), n)
            for name, n in vetoes
        )

    def decide(self, doc: Document) -> Decision | None:
        """The first label in priority order whose patterns fire, with its evidence."""
        for rule in self.labels:
            decision, _ = self._fire(doc, rule)
            if decision is not None:
                return decision
        return None

    def fired(self, doc: Document) -> tuple[list[Decision], frozenset[str]]:
        """Every label whose patterns fire, in priority order (`decide` is the first), and
        the labels whose patterns matched but were vetoed by their context ("Outlook на
        ноутбуке не отправляет письма" is not a mail outage, whatever else weighs)."""
        decisions, vetoed = [], set()
        for rule in self.labels:
            decision, was_vetoed = self._fire(doc, rule)
            if decision is not None:
                decisions.append(decision)
            elif was_vetoed:
                vetoed.add(rule.label)
        return decisions, frozenset(vetoed)

    def _fire(self, doc: Document, rule: LabelRule) -> tuple[Decision | None, bool]:
        hit = doc.sets_hit()
        label_vetoed = not hit.isdisjoint(rule.unless)
        vetoed = False
        best: tuple[int, int, Pattern, list[Hit]] | None = None
        for order, pattern in enumerate(rule.patterns):
            if not hit >= pattern.needs:
                continue
            if label_vetoed or not hit.isdisjoint(pattern.unless):
                vetoed = True
                continue
            vetoes = rule.unless_near + pattern.unless_near
            found, rejected = _match(doc, pattern, partial(self._vetoed, doc, vetoes))
            vetoed = vetoed or rejected
            if found is None:
                continue
            span, hits = found
            key = (span if rule.pick == "nearest" else 0, order)
            if best is None or key < (best[0], best[1]):
                best = (key[0], key[1], pattern, hits)
            if rule.pick == "first":
                break
        if best is None:
            return None, vetoed
        pattern, hits = best[2], best[3]
        kind = "sub" if pattern.sub else "label"
        name = pattern.sub or rule.label
        evidence = tuple(Evidence(kind, name, pattern.rule, h.cue, h.field, h.match) for h in hits)
        return Decision(rule.label, pattern.sub, pattern.rule, evidence), False


def _close(hits: list[Hit], context: list[Hit], starts: list[int], near: int) -> bool:
    """Whether a context hit lies within `near` tokens of one of `hits`. Context hits are
    sorted by start and span at most _MAX_SPAN, so each check is a bisection."""
    for h in hits:
        index = bisect_left(starts, h.start - near - _MAX_SPAN)
        while index < len(context) and context[index].start <= h.end + near:
            if context[index].end + near >= h.start:
                return True
            index += 1
    return False


def _match(
    doc: Document, pattern: Pattern, rejects: Callable[[list[Hit]], bool]
) -> tuple[tuple[int, list[Hit]] | None, bool]:
    """The pattern's nearest hits that its context does not veto, and whether a match was
    vetoed; the caller has checked every group has a hit. Each anchor is judged on its
    own: "Сайт не упал, но почта не работает" vetoes the first failure, not the second."""
    groups = [doc.hits(cues) for cues in pattern.groups]
    rejected = False
    if pattern.window is None:
        for anchor in groups[0]:
            chosen = [anchor] + [g[0] for g in groups[1:]]
            if not rejects(chosen):
                return (0, chosen), rejected
            rejected = True
        return None, rejected
    # Hits are sorted by start: the nearest hit of each other group is found by bisection,
    # so a text repeating cue words costs n log n, not n squared.
    starts = [[h.start for h in group] for group in groups[1:]]
    best: tuple[int, list[Hit]] | None = None
    for anchor in groups[0]:
        chosen = [anchor]
        for other, positions in zip(groups[1:], starts, strict=True):
            chosen.append(_nearest(other, positions, anchor.start))
        span = max(h.end for h in chosen) - min(h.start for h in chosen)
        if span <= pattern.window and (best is None or span < best[0]):
            if rejects(chosen):
                rejected = True
            else:
                best = (span, chosen)
    return best, rejected


def _nearest(hits: list[Hit], starts: list[int], position: int) -> Hit:
    """The first hit whose start is closest to `position` (ties go to the earlier)."""
    index = bisect_left(starts, position)
    if index == 0:
        return hits[0]
    if index == len(hits):
        return hits[bisect_left(starts, starts[-1])]
    before, after = hits[index - 1], hits[index]
    # Several hits can share a start; the earliest in list order with that start wins,
    # as min() did before.
    if position - before.start <= after.start - position:
        return hits[bisect_left(starts, before.start)]
    return after
