"""Cues compiled from the rules' data: which features a word has, which cues start
with a feature (the rule engine's index; see engine.py for the cue syntax)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from chalicelib.classify.text import Token, remembered, stem, words
from chalicelib.values import frozen

_CODE = re.compile(r"^[45]\d\d$")
_IMPERATIVE = re.compile(r"^[а-я]{3,}(?:йте|ите|ьте)$")


@frozen
class Cue:
    text: str
    features: tuple[str, ...]


class CueSet:
    """Named cues. The vocabulary that compiles them indexes every cue by its first word
    (`Vocabulary.starts`), so a document only tries cues that can match."""

    def __init__(self, name: str, cues: Sequence[Cue]) -> None:
        self.name = name
        self.cues = tuple(cues)


class Vocabulary:
    """Compiled cues; knows which token features a request must be indexed by."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()
        self.prefix_lengths: list[int] = []
        self.exact: set[str] = set()  # `=как`: this word as written, not its stem
        # Every compiled cue by its first feature, with the set it belongs to: a document
        # finds all its hits in one pass over the features it has.
        self.starts: dict[str, list[tuple[str, Cue]]] = {}
        self._known: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}

    def compile(self, text: str) -> Cue:
        self._known.clear()  # a new prefix or exact word changes what words have
        features = []
        for word in words(text):
            if word == "<code>":
                features.append("c:code")
            elif word == "<imp>":
                features.append("c:imp")
            elif word.startswith("=") and len(word) > 1:
                self.exact.add(word[1:])
                features.append("w:" + word[1:])
            elif word.endswith("*") and len(word) > 1:
                prefix = word[:-1]
                self.prefixes.add(prefix)
                features.append("p:" + prefix)
            else:
                features.append("s:" + stem(word))
        self.prefix_lengths = sorted({len(p) for p in self.prefixes})
        return Cue(text=text, features=tuple(features))

    def compile_set(self, name: str, texts: Iterable[str]) -> CueSet:
        cues = CueSet(name, [self.compile(t) for t in texts])
        for cue in cues.cues:
            self.starts.setdefault(cue.features[0], []).append((name, cue))
        self._known.clear()  # which of a word's features start a cue changed
        return cues

    def features(self, token: Token) -> frozenset[str]:
        """The features a word has, remembered per word."""
        return remembered(self._known, token.norm, self._indexed, token)[0]

    def indexed(self, token: Token) -> tuple[frozenset[str], tuple[str, ...]]:
        """The word's features, and those of them a cue starts with (remembered)."""
        return remembered(self._known, token.norm, self._indexed, token)

    def _indexed(self, token: Token) -> tuple[frozenset[str], tuple[str, ...]]:
        features = self._features(token)
        return features, tuple(f for f in features if f in self.starts)

    def _features(self, token: Token) -> frozenset[str]:
        norm = token.norm
        found = ["s:" + token.stem]
        if norm in self.exact:
            found.append("w:" + norm)
        for length in self.prefix_lengths:
            if length > len(norm):
                break
            head = norm[:length]
            if head in self.prefixes:
                found.append("p:" + head)
        if _CODE.match(norm):
            found.append("c:code")
        elif _IMPERATIVE.match(norm):
            found.append("c:imp")
        return frozenset(found)
