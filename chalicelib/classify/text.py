"""Text normalisation and stemmed tokens, shared by the rules and the requests."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any, NamedTuple, TypeVar

# Addresses and links carry no scope signal but their parts look like words
# ("почта аккаунта sergey@vetclinic.ru" must not read as "ru").
# Each alternative starts only at the start of a white-space-delimited word, so a long
# run without spaces is scanned once, not once per offset (that was quadratic).
_ADDRESS = re.compile(r"(?<!\S)(?:[^\s@]+@\S+|https?://\S+|www\.\S+)", re.IGNORECASE)
_APOSTROPHE = re.compile(r"[\u0027\u2019\u02bc`]")
# "we'll pay" must not read as "well pay": the contractions that would collide are
# written out before apostrophes go ("don't" stays "dont", as the rules write it).
_CONTRACTION = re.compile(r"(?<=[a-z])[\u0027\u2019\u02bc`](ll|d|re|ve|m)\b")
_EXPANDED = {"ll": " will", "d": " would", "re": " are", "ve": " have", "m": " am"}
# A word, possibly masked with asterisks or similar ("f***", "бл*дь", "п@дла", and
# "sh!t": an exclamation mark inside a short word masks, "Привет!Сайт" is two), or a
# dotted or snake_case name kept whole ("22.04", "node.js", "config.php",
# "memory_limit"): its parts are not words.
_TOKEN = re.compile(
    r"[0-9a-zа-я]+(?:[._][0-9a-zа-я]+)+"
    r"|[a-zа-я]{1,4}!+[a-zа-я]{1,4}(?![0-9a-zа-я])"
    r"|[0-9a-zа-я]+(?:[*@#$%]+[0-9a-zа-я]*)*"
    r"|(?<!\*)\*+[a-zа-я]+"
)
# A sentence ends at a mark followed by a space or the end, or at a line break.
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)|[?;]+|!+(?![0-9a-zа-я])|\n+")
_CYRILLIC = re.compile(r"[а-я]")
SENTENCE_GAP = 5
KNOWN_WORDS = 50_000  # words whose verdicts a process remembers (words repeat)
_T = TypeVar("_T")
_A = TypeVar("_A")
FIELD_GAP = 50


class Token(NamedTuple):  # a tuple: every word of every request is one
    surface: str  # as written, lower-cased
    norm: str  # ё→е, lower-cased
    stem: str
    position: int
    field: str


def remembered(cache: dict[str, _T], key: str, make: Callable[[_A], _T], arg: _A) -> _T:
    """`make(arg)`, remembered under `key` (a word, a feature) in `cache`; the cache
    starts over past KNOWN_WORDS keys, so a process's memory stays flat whatever it
    reads."""
    try:  # not `in` then `[]`: another thread may start the cache over in between
        return cache[key]
    except KeyError:
        pass
    if len(cache) >= KNOWN_WORDS:
        cache.clear()
    value = cache[key] = make(arg)
    return value


def normalise(text: str) -> str:
    """Case-fold, `ё`→`е`, drop apostrophes so "don't" is one word."""
    lowered = text.lower().replace("ё", "е")
    expanded = _CONTRACTION.sub(lambda m: _EXPANDED[m.group(1)], lowered)
    return _APOSTROPHE.sub("", expanded)


@cache
def _stemmers() -> tuple[Any, Any]:
    """Russian and English snowball stemmers, made at the first word stemmed: the
    package loads thirty languages (about 15 ms), which a cold start serving a staff
    page need not pay (issue 29)."""
    import snowballstemmer

    return snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")


# A snowball stemmer keeps the word it is working on in itself: two threads stemming at
# once (the local stack serves requests on threads, the drain sends on eight) made
# wrong stems, remembered for good, and IndexErrors (a 500 on a ticket). One at a time;
# each word is stemmed once per process, so the lock is rarely waited on.
_STEMMING = threading.Lock()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    if _CYRILLIC.search(word):
        with _STEMMING:
            return str(_stemmers()[0].stemWord(word))
    if word.isascii() and word.isalpha():
        with _STEMMING:
            return str(_stemmers()[1].stemWord(word))
    return word


def tokenize(text: str, field: str = "text", start: int = 0) -> list[Token]:
    """Tokens with positions; a sentence break adds a gap so cue windows stay inside it."""
    tokens: list[Token] = []
    append = tokens.append
    stems = _STEMS
    position = start
    clean = _ADDRESS.sub(" ", normalise(text))
    begin = 0
    for end in [*_SENTENCE_END.finditer(clean), None]:
        stop = end.start() if end else len(clean)
        for word in _TOKEN.findall(clean, begin, stop):
            stemmed = stems.get(word)
            if stemmed is None:
                stemmed = remembered(stems, word, stem, word)
            append(Token(word, word, stemmed, position, field))
            position += 1
        if end is not None and "?" in end.group(0):
            # A question is a cue of its own ("?"): the sentence asks something.
            append(Token("?", "?", "?", position, field))
            position += 1
        position += SENTENCE_GAP
        begin = end.end() if end else stop
    return tokens


_STEMS: dict[str, str] = {}  # word -> stem, for the words a process has read


def tokenize_request(subject: str, text: str) -> list[Token]:
    head = tokenize(subject, "subject", 0)
    start = (head[-1].position if head else 0) + FIELD_GAP
    return head + tokenize(text, "text", start)


def words(cue: str) -> list[str]:
    """The words of a rule-data cue, normalised like request text (keeps `*` and `<...>`)."""
    return normalise(cue).split()


_MASK = re.compile(r"[*@#$%!]+")


def masked_pattern(token: str) -> re.Pattern[str] | None:
    """A regex for a masked word ("f***", "бл*дь"): each run of n masks is 1..n+2 letters."""
    if not _MASK.search(token) or not re.search(r"[a-zа-я]", token):
        return None
    parts = []
    for piece in re.split(r"([*@#$%!]+)", token):
        if not piece:
            continue
        if _MASK.fullmatch(piece):
            parts.append(f"[a-zа-я]{{1,{len(piece) + 2}}}")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")
