"""Scope classifier (SPEC.md, Scope labels): one label, sub-label, flags, evidence, KB links.

The rules, the abuse lexicon and the knowledge-base index are data files beside this
module; the code here only applies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.classify.clean import bare_subject, is_reply_subject, own_words, translit_reading
from chalicelib.classify.engine import (
    CueSet,
    Decision,
    Document,
    RuleSet,
    Vocabulary,
    masked_pattern,
)
from chalicelib.classify.text import Token, tokenize, words
from chalicelib.models import Evidence, KbArticle, Scope

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


@dataclass(frozen=True)
class _Article:
    slug: str
    title: str
    url: str
    labels: frozenset[str]
    cues: tuple[CueSet, ...]


class AbuseLexicon:
    """R6.2: whole-word matching only, so no substring false positives."""

    def __init__(self, data: dict[str, Any], vocabulary: Vocabulary) -> None:
        self._stems = {vocabulary.compile(w).features[0] for w in data["stems"]}
        self._prefixes = frozenset(str(p) for p in data["prefixes"])
        self._prefix_lengths = sorted({len(p) for p in self._prefixes})
        self._masked: tuple[str, ...] = tuple(str(w) for w in data["masked"])

    def hits(self, tokens: list[Token]) -> list[Evidence]:
        found = []
        for token in tokens:
            cue = self._cue(token)
            if cue is not None:
                found.append(Evidence("flag", "abusive", "R6.2", cue, token.field, token.surface))
        return found

    def _cue(self, token: Token) -> str | None:
        if "s:" + token.stem in self._stems:
            return token.stem
        norm = token.norm
        for length in self._prefix_lengths:
            if norm[:length] in self._prefixes:
                return norm[:length] + "*"
        pattern = masked_pattern(norm)
        if pattern is not None:
            for word in self._masked:
                if pattern.match(word):
                    return word
        return None


class Classifier:
    """The scope classifier: rules, abuse lexicon and KB index compiled once."""

    def __init__(
        self,
        rules: dict[str, Any],
        abuse: dict[str, Any],
        kb: dict[str, Any],
        kb_base_url: str | None = None,
    ) -> None:
        self.rules = RuleSet(rules)
        self._fallback = rules["fallback"]
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
        abusive = self.abuse.hits(doc.tokens)
        if not abusive and len(text) > TEXT_CHARS:
            abusive = self.abuse.hits(tokenize(text[TEXT_CHARS:ABUSE_CHARS]))
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

    def _judge(self, subject: str, text: str) -> tuple[Document, Decision | None]:
        """The request's own words (`clean`), with a Cyrillic reading of translit."""
        own = own_words(text)
        reading = translit_reading(own)
        words = own if reading is None else f"{own}\n{reading}"
        # A reply's subject restates the earlier message: it counts only when the
        # reply has no words of its own.
        title = "" if is_reply_subject(subject) and own.strip() else bare_subject(subject)
        doc = self.rules.document(title, words)
        return doc, self.rules.decide(doc)

    def _suggest(self, doc: Document, label: str, sub: str | None) -> tuple[KbArticle, ...]:
        keys = {label, f"{label}:{sub}"} if sub else {label}
        scored = []
        for order, article in enumerate(self._articles):
            score = 3 * len(article.labels & keys)
            cue_hits = sum(1 for cue in article.cues if doc.hits(cue))
            score += cue_hits
            # A cue-only match needs two cues, so one shared word does not suggest it.
            if score >= 3 or (score >= 2 and cue_hits >= 2):
                scored.append((-score, order, article))
        scored.sort(key=lambda s: (s[0], s[1]))
        return tuple(KbArticle(title=a.title, url=a.url) for _, _, a in scored[:MAX_KB])


@cache
def default_classifier(kb_base_url: str | None = None) -> Classifier:
    return Classifier(_load("rules.json"), _load("abuse.json"), _load("kb.json"), kb_base_url)


def classify_request(subject: str, text: str, channel: str) -> tuple[Scope, tuple[KbArticle, ...]]:
    """Scope and knowledge-base suggestions for one request from any channel."""
    return default_classifier()(subject, text, channel)


__all__ = [
    "Classifier",
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
