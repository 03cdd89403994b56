"""R6.2: is a customer's message abusive? Judged on every message, word by word.

The lexicon is data (abuse.json):
- `stems`: whole words in any inflection (`=word`: that form only, where the stem is
  innocent: "тупые" but not "тупо");
- `prefixes`: whole tokens starting with the root (never inside a word, so Scunthorpe,
  Middlesex, shell and analysts are safe);
- `masked`: full words a masked token (`f***`, `бл*дь`, `у*бку`) is compared against;
- `directed`: words that insult only when aimed at the reader (issue 30): "useless",
  "козлов" (also a surname), "amateurs" count after a second-person pronoun a few words
  before them in the same sentence ("are you people completely useless", "вас, козлов")
  or beside another directed word ("useless amateurs"), never alone ("this plugin is
  useless", "Иван Козлов");
- `scare_quoted`: the team's titles in scare quotes, the sarcasm of «специалисты»
  and "experts" (plural people, so a plan named «Эксперт» stays clean).
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.classify.text import Token, masked_pattern, remembered
from chalicelib.classify.vocabulary import Vocabulary
from chalicelib.domain.tickets import Evidence

RULE = "R6.2"
DIRECTED_WINDOW = 3  # how many words before a directed word its target may stand
_QUOTES = "«»\"“”„'‘’"


class AbuseLexicon:
    """R6.2: whole-word matching only, so no substring false positives."""

    def __init__(self, data: dict[str, Any], vocabulary: Vocabulary) -> None:
        self._stems = {vocabulary.compile(w).features[0] for w in data["stems"]}
        self._prefixes = frozenset(str(p) for p in data["prefixes"])
        self._prefix_lengths = sorted({len(p) for p in self._prefixes})
        self._masked: tuple[str, ...] = tuple(str(w) for w in data["masked"])
        directed = data["directed"]
        self._targets = frozenset(str(w) for w in directed["targets"])
        self._directed = frozenset(str(w) for w in directed["words"])
        titles = "|".join(re.escape(str(t)) for t in data["scare_quoted"])
        self._scare = re.compile(rf"[{_QUOTES}]\s?({titles})\s?[{_QUOTES}]", re.IGNORECASE)
        self._known: dict[str, str | None] = {}  # word -> its cue (text.remembered)

    def hits(self, tokens: list[Token]) -> list[Evidence]:
        found = []
        for i, token in enumerate(tokens):
            cue = remembered(self._known, token.norm, self._cue, token)
            if cue is None and token.norm in self._directed and self._aimed(tokens, i):
                cue = token.norm
            if cue is not None:
                found.append(Evidence("flag", "abusive", RULE, cue, token.field, token.surface))
        return found

    def scare_quotes(self, text: str, field: str = "text") -> list[Evidence]:
        """The team's titles in scare quotes (`ну вы и «специалисты»`)."""
        return [
            Evidence("flag", "abusive", RULE, "scare quotes", field, match.group(0))
            for match in self._scare.finditer(text)
        ]

    def _aimed(self, tokens: list[Token], i: int) -> bool:
        position = tokens[i].position
        for j in range(i - 1, -1, -1):
            other = tokens[j]
            if position - other.position > DIRECTED_WINDOW:
                break
            if other.norm in self._targets:
                return True
            if other.norm in self._directed and position - other.position == 1:
                return True
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        return nxt is not None and nxt.position == position + 1 and nxt.norm in self._directed

    def _cue(self, token: Token) -> str | None:
        if "s:" + token.stem in self._stems:
            return token.stem
        if "w:" + token.norm in self._stems:  # `=word`: this form only, not its stem
            return token.norm
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
