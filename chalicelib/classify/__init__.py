"""Scope classifier (SPEC.md, Scope labels): one label, sub-label, flags, evidence, KB links.

The rules, the abuse lexicon and the knowledge-base index are data files beside this
module; the code here only applies them.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.classify.abuse import AbuseLexicon
from chalicelib.classify.clean import (
    bare_subject,
    is_reply_subject,
    own_words,
    people_lines,
    translit_reading,
)
from chalicelib.classify.engine import Decision, Document, RuleSet
from chalicelib.classify.learned import (
    LinearModel,
    asks_nothing,
    choose,
    distinct_words,
    explain,
    features,
)
from chalicelib.classify.text import Token, tokenize, words
from chalicelib.classify.vocabulary import CueSet
from chalicelib.domain.tickets import Evidence, KbArticle, Scope
from chalicelib.values import frozen

_HERE = Path(__file__).parent
ADVISORY_CHANNELS = frozenset({"email", "chat", "skype"})
MAX_KB = 3
# The classifier reads a bounded excerpt by design: what a request is about is said at
# its start, and the full text of a long mail or transcript stays in S3. Abuse (R6.2)
# is looked for further, since it is a per-word check.
SUBJECT_CHARS = 500
TEXT_CHARS = 10_000
ABUSE_CHARS = 100_000


def _load(name: str) -> Any:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


@frozen
class _Article:
    slug: str
    title: str
    url: str
    labels: frozenset[str]
    cues: tuple[CueSet, ...]


class Classifier:
    """The scope classifier: rules, abuse lexicon and KB index compiled once."""

    def __init__(
        self,
        rules: dict[str, Any],
        abuse: dict[str, Any],
        kb: dict[str, Any],
        kb_base_url: str | None = None,
        model: dict[str, Any] | None = None,
    ) -> None:
        self.rules = RuleSet(rules)
        self._fallback = rules["fallback"]
        self._label_rules = {rule.label: rule.rule for rule in self.rules.labels}
        self._subs: dict[str, set[str]] = {}
        for rule in self.rules.labels:
            self._subs[rule.label] = {p.sub for p in rule.patterns if p.sub}
        # Without a model (while one is trained) the rules alone decide.
        self.model = LinearModel(model["labels"]) if model else None
        self.sub_model = LinearModel(model["subs"]) if model else None
        self._margin = float(model["rule_margin"]) if model else 0.0
        recommend = rules["ticket_recommended"]
        self._recommend_rule = recommend["rule"]
        self._recommend_labels = frozenset(recommend["labels"])
        self.abuse = AbuseLexicon(abuse, self.rules.vocabulary)
        # The help centre's address is the deployment's (KB_BASE_URL); kb.json's is the
        # local default.
        base = kb_base_url or kb["base_url"]
        self._articles = tuple(
            _Article(
                slug=a["slug"],
                title=a["title"],
                url=base + a["slug"],
                labels=frozenset(a["labels"]),
                cues=tuple(
                    self.rules.vocabulary.compile_set(f"kb:{a['slug']}:{c}", [c]) for c in a["cues"]
                ),
            )
            for a in kb["articles"]
        )
        # Each article's cue sets by name, so a request counts its hits per article
        # from the sets it hit instead of asking every article.
        self._kb_cue_owner = {
            cue.name: order for order, article in enumerate(self._articles) for cue in article.cues
        }
        self._kb_by_label: dict[str, list[int]] = {}
        for order, article in enumerate(self._articles):
            for key in article.labels:
                self._kb_by_label.setdefault(key, []).append(order)

    def __call__(
        self, subject: str, text: str, channel: str
    ) -> tuple[Scope, tuple[KbArticle, ...]]:
        doc, decision = self._judge(subject[:SUBJECT_CHARS], text[:TEXT_CHARS])
        flags: list[str] = []
        evidence: list[Evidence] = []
        if decision is None:
            label, sub = self._fallback["label"], None
            flags.append(self._fallback["flag"])
            evidence.append(
                Evidence("flag", self._fallback["flag"], self._fallback["rule"], "", "text", "")
            )
        else:
            label, sub = decision.label, decision.sub
            evidence.extend(decision.evidence)
        abusive = self._abuse(subject, text, doc.tokens)
        if abusive:
            flags.append("abusive")
            evidence.extend(abusive)
        if channel in ADVISORY_CHANNELS and label in self._recommend_labels:
            flags.append("ticket_recommended")
            evidence.append(
                Evidence(
                    "flag",
                    "ticket_recommended",
                    self._recommend_rule,
                    f"label:{label}",
                    "text",
                    "needs an official ticket from the cabinet",
                )
            )
        scope = Scope(label=label, sub=sub, flags=tuple(flags), evidence=tuple(evidence))
        return scope, self._suggest(doc, label, sub)

    def abuse_in(self, text: str) -> tuple[Evidence, ...]:
        """R6.2: the abuse evidence of one customer message (a follow-up, a reply): its
        own words, quotes of earlier messages set aside, as a request's are judged."""
        return tuple(self._abuse("", text, self.document("", text[:TEXT_CHARS]).tokens))

    def _abuse(self, subject: str, text: str, tokens: list[Token]) -> list[Evidence]:
        found = self.abuse.hits(tokens)
        found += self.abuse.scare_quotes(subject[:SUBJECT_CHARS], "subject")
        found += self.abuse.scare_quotes(text[:ABUSE_CHARS])
        if not found and len(text) > TEXT_CHARS:
            found = self.abuse.hits(tokenize(people_lines(text[TEXT_CHARS:ABUSE_CHARS])))
        return found

    def document(self, subject: str, text: str) -> Document:
        """The request's own words (`clean`), with a Cyrillic reading of translit."""
        own = own_words(text)
        reading = translit_reading(own)
        words = own if reading is None else f"{own}\n{reading}"
        # A reply's subject restates the earlier message: it counts only when the
        # reply has no words of its own.
        title = "" if is_reply_subject(subject) and own.strip() else bare_subject(subject)
        return self.rules.document(title, words)

    def features(self, doc: Document, fired: list[Decision], vetoed: frozenset[str]) -> list[str]:
        return features(doc, self.rules.sets, fired, vetoed)

    def _judge(self, subject: str, text: str) -> tuple[Document, Decision | None]:
        doc = self.document(subject, text)
        fired, vetoed = self.rules.fired(doc)
        if self.model is None or self.sub_model is None:
            return doc, fired[0] if fired else None
        found = self.features(doc, fired, vetoed)
        scores = self.model.scores(found, distinct_words(doc))
        label = choose(scores, fired, vetoed, self._margin, asks_nothing(doc, fired))
        for decision in fired:
            if decision.label == label:
                return doc, decision  # the rules' own evidence for the label
        if label == self._fallback["label"]:
            return doc, None
        rule = self._label_rules[label]
        subs = self._subs.get(label, set())
        sub = self.sub_model.best(found, among=subs) if subs else None
        reasons = self.model.reasons(found, label)
        evidence = explain(doc, self.rules.sets, fired, label, rule, reasons)
        return doc, Decision(label, sub, rule, evidence)

    def _suggest(self, doc: Document, label: str, sub: str | None) -> tuple[KbArticle, ...]:
        keys = (label, f"{label}:{sub}") if sub else (label,)
        cue_hits: dict[int, int] = {}
        for name in doc.sets_hit():
            order = self._kb_cue_owner.get(name)
            if order is not None:
                cue_hits[order] = cue_hits.get(order, 0) + 1
        labelled: dict[int, int] = {}
        for key in keys:
            for order in self._kb_by_label.get(key, ()):
                labelled[order] = labelled.get(order, 0) + 3
        scored = []
        for order in cue_hits.keys() | labelled.keys():
            hits = cue_hits.get(order, 0)
            score = labelled.get(order, 0) + hits
            # A cue-only match needs two cues, so one shared word does not suggest it.
            if score >= 3 or (score >= 2 and hits >= 2):
                scored.append((-score, order))
        scored.sort()
        return tuple(
            KbArticle(title=self._articles[o].title, url=self._articles[o].url)
            for _, o in scored[:MAX_KB]
        )


_BUILDING = threading.Lock()  # two first requests at once build the classifier once


def default_classifier(kb_base_url: str | None = None) -> Classifier:
    with _BUILDING:
        return _classifier(kb_base_url)


@cache
def _classifier(kb_base_url: str | None) -> Classifier:
    return Classifier(
        _load("rules.json"), _load("abuse.json"), _load("kb.json"), kb_base_url, _load("model.json")
    )


def classify_request(subject: str, text: str, channel: str) -> tuple[Scope, tuple[KbArticle, ...]]:
    """Scope and knowledge-base suggestions for one request from any channel."""
    return default_classifier()(subject, text, channel)


def abuse_evidence(text: str) -> tuple[Evidence, ...]:
    """R6.2: what in one customer message is abusive (nothing: not abusive)."""
    return default_classifier().abuse_in(text)


__all__ = [
    "Classifier",
    "abuse_evidence",
    "classify_request",
    "default_classifier",
    "label_catalogue",
    "rule_set",
    "words",
]


@cache
def label_catalogue() -> dict[str, frozenset[str]]:
    """Every scope label with its allowed sub-labels, read from the rules (SPEC.md)."""
    rules = _load("rules.json")
    catalogue: dict[str, set[str]] = {entry["label"]: set() for entry in rules["labels"]}
    catalogue[rules["fallback"]["label"]] = set()
    for entry in rules["labels"]:
        for pattern in entry["patterns"]:
            if pattern.get("sub"):
                catalogue[entry["label"]].add(pattern["sub"])
    return {label: frozenset(subs) for label, subs in catalogue.items()}


@cache
def rule_set(name: str) -> tuple[str, ...]:
    """One cue set of the rules (words, `*` prefixes, phrases), for a caller that reads
    the same signal elsewhere (the admin request's "not a clean OS", R5.2)."""
    return tuple(_load("rules.json")["sets"][name])
