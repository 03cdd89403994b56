"""What a request says, before it is judged (issue 17): quoted correspondence, the
headers of a reply or forward, signatures and greetings carry no scope of their own and
mislead the rules ("> сайт не работает" quoted from last week). Russian written in
Latin letters ("ne rabotaet pochta") is read in Cyrillic beside the original.

Every step is one pass over the lines, bounded by the text's own limit.
"""

from __future__ import annotations

import re
from functools import lru_cache

# A reply's or forward's header line: everything after it is the earlier message.
_CUT = re.compile(
    r"^\s*(?:"
    r"on\s.{0,200}\swrote:?|"  # On Mon, 1 Dec 2026, Anna <a@b> wrote:
    r".{0,200}\s(?:писал|написал|пишет)\(?а?\)?:|"  # 01.12.2026, Анна пишет:
    r"-{2,}\s*(?:original message|forwarded message|исходное сообщение|"
    r"пересланное сообщение|переадресованное сообщение)\s*-{2,}|"
    r"begin forwarded message:|"
    r"(?:from|от|sent|отправлено):\s.{0,200}(?:sent|date|дата|отправлено|to|кому):\s.*"
    r")\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\s*(?:from|от|sent|date|дата|to|кому|subject|тема):\s", re.I)
# A signature starts at "-- " (RFC 3676) or at a sign-off near the end of the message.
_SIGNATURE = re.compile(r"^\s*--\s*$")
_SIGN_OFF = re.compile(
    r"^\s*(?:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+доброго|"
    r"best(?:\s+regards)?|kind\s+regards|regards|cheers|thanks(?:\s+in\s+advance)?|"
    r"sent\s+from\s+my\s.{0,40}|отправлено\s+с\s.{0,40}|"
    r"спасибо(?:\s+заранее)?)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_SIGN_OFF_LINES = 6  # a sign-off only counts this close to the end
_GREETING = re.compile(
    r"^\s*(?:здравствуйте|здраствуйте|добрый\s+(?:день|вечер|утро)|доброе\s+утро|"
    r"доброго\s+времени\s+суток|привет(?:ствую)?|hello|hi|hey|good\s+(?:morning|afternoon|"
    r"evening)|dear\s+(?:support|team|sir|madam)[\w ]{0,30})"
    r"(?:\s*[,!.]?\s*(?:(?:уважаемая|уважаемые)?\s*(?:поддержка|техподдержка|support|team))?)?"
    r"\s*[,!.]*\s*$",
    re.IGNORECASE,
)
# Machine text pasted into a request (issue 30): log lines, stack frames, dumps. A run
# of them keeps its first line (MACHINE_KEPT; the error is usually there); the rest is
# the same shape again, and reading every line of a pasted log cost more than the rest
# of the request (issue 29). A line is machine text when it starts like a log record or
# when digits and punctuation make up MACHINE_SHARE of it.
MACHINE_KEPT = 1
MACHINE_SHARE = 0.35
_MACHINE_MIN = 30  # shorter lines are read whatever they look like
_MACHINE_START = re.compile(
    r"\s*(?:\d{1,3}(?:\.\d{1,3}){3}\s|\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|"
    r"\[\w{3} \w{3} +\d+ \d\d:\d\d|\w{3} +\d+ \d\d:\d\d:\d\d|#\d+ |at \S+\(|File \")"
)
_MACHINE_CHARS = str.maketrans(dict.fromkeys("0123456789/:[]{}()=<>|\"'._-#@%&+,;", None))
_REPLY_SUBJECT = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|ответ|отв)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def is_reply_subject(subject: str) -> bool:
    return bool(_REPLY_SUBJECT.match(subject))


def bare_subject(subject: str) -> str:
    """The subject without its `Re:`/`Fwd:` prefixes."""
    return _REPLY_SUBJECT.sub("", subject)


def own_words(text: str) -> str:
    """The request's own words: without quoted lines, the earlier message under a reply
    or forward header, the signature, a greeting line, and the lines past the first
    MACHINE_KEPT of a pasted log. If that leaves nothing (a
    bare forward), the text is returned whole: the forwarded words are then the request."""
    lines = text.splitlines()
    kept: list[str] = []
    run = 0  # machine lines in a row
    for at, line in enumerate(lines):
        if _ends_own_words(lines, at, kept):
            break
        if line.lstrip().startswith(">"):
            continue
        run = run + 1 if is_machine_line(line) else 0
        if run <= MACHINE_KEPT:
            kept.append(line)
    _drop_sign_off(kept)
    first = 0
    while first < len(kept) and (not kept[first].strip() or _GREETING.match(kept[first])):
        first += 1
    own = "\n".join(kept[first:]).strip()
    return own if own else text


def _ends_own_words(lines: list[str], at: int, kept: list[str]) -> bool:
    line = lines[at]
    # Every header _CUT knows has a colon, a dash or "wrote": most lines are spared it.
    if (":" in line or "-" in line or "rote" in line or "ROTE" in line) and _CUT.match(line):
        return True
    return bool(_SIGNATURE.match(line)) or _forward_starts(lines, at, kept)


def people_lines(text: str) -> str:
    """The text without its machine lines (what R6.2 reads past the excerpt)."""
    return "\n".join(line for line in text.splitlines() if not is_machine_line(line))


def is_machine_line(line: str) -> bool:
    """A log record, a stack frame, a dump: not words a person wrote."""
    size = len(line)
    if size < _MACHINE_MIN:
        return False
    if _MACHINE_START.match(line):
        return True
    return size - len(line.translate(_MACHINE_CHARS)) >= MACHINE_SHARE * (size - line.count(" "))


def _forward_starts(lines: list[str], at: int, kept: list[str]) -> bool:
    """After a blank line, two header lines in a row ("From: ..." then "Sent: ..."): a
    forwarded message begins at `at`."""
    return (
        bool(kept)
        and not kept[-1].strip()
        and at + 1 < len(lines)
        and bool(_HEADER_BLOCK.match(lines[at]))
        and bool(_HEADER_BLOCK.match(lines[at + 1]))
    )


def _drop_sign_off(kept: list[str]) -> None:
    start = max(0, len(kept) - _SIGN_OFF_LINES)
    for index in range(len(kept) - 1, start - 1, -1):
        if _SIGN_OFF.match(kept[index]):
            del kept[index:]
            return


# -- Russian in Latin letters ----------------------------------------------------------

_TRANSLIT_MARKERS = frozenset(
    [
        # Words of everyday Russian that English does not share: greetings, pronouns,
        # particles, time words (so a line with no support vocabulary is read too).
        "privet",
        "dobryy",
        "dobryi",
        "dobriy",
        "dobrij",
        "den",
        "vecher",
        "utro",
        "pozhaluista",
        "pzhl",
        "vy",
        "vas",
        "vam",
        "vami",
        "menya",
        "mne",
        "nas",
        "nam",
        "eto",
        "etot",
        "eta",
        "tak",
        "tozhe",
        "uzhe",
        "opyat",
        "snova",
        "seychas",
        "sejchas",
        "segodnya",
        "vchera",
        "zavtra",
        "tolko",
        "mozhno",
        "nuzhno",
        "nado",
        "zhe",
        "li",
        "chtoby",
        "kogda",
        "gde",
        "kuda",
        "skolko",
        "kto",
        "ili",
        "esli",
        "lezhit",
        "lezhat",
        "upal",
        "upala",
        "vydaet",
        "pishet",
        "prihodyat",
        "uhodyat",
        "otpravlyayutsya",
        "podklyuchaetsya",
        "sdelayte",
        "ustanovite",
        "nastroyte",
        "proshu",
        "voobsche",
        "vsyo",
        "vse",
        "vsem",
        "nichego",
        "nikak",
        "ochen",
        "bolshe",
        "oplatit",
        "kabinet",
        "pisma",
        "yashchik",
        "domen",
        "ne",
        "net",
        "rabotaet",
        "rabotayet",
        "rabotaut",
        "otkryvaetsya",
        "otkrivaetsya",
        "pochta",
        "pochtu",
        "sait",
        "sajt",
        "saita",
        "sayt",
        "pomogite",
        "pozhaluysta",
        "pozhalujsta",
        "pojaluista",
        "zdravstvuyte",
        "zdravstvuite",
        "oshibka",
        "oshibku",
        "server",
        "servera",
        "baza",
        "bazy",
        "dannyh",
        "dannykh",
        "kak",
        "pochemu",
        "chto",
        "zagruzhaetsya",
        "dostupa",
        "dostup",
        "ne_rabotaet",
        "vylet",
        "slomalos",
        "sdelat",
        "nastroit",
        "ustanovit",
        "pereustanovit",
        "hosting",
        "hostinga",
        "tarif",
        "oplata",
        "dengi",
        "spasibo",
        "srochno",
    ]
)
_DIGRAPHS = (
    ("tsya", "тся"),
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("yo", "е"),
    ("jo", "е"),
    ("ye", "е"),
    ("iy", "ий"),
    ("yy", "ый"),
    ("ij", "ий"),
    ("ay", "ай"),
    ("oy", "ой"),
    ("ey", "ей"),
    ("uy", "уй"),
    ("ai", "ай"),
    ("oi", "ой"),
    ("ei", "ей"),
    ("ui", "уй"),
)
_LETTERS = str.maketrans(
    {
        "a": "а",
        "b": "б",
        "v": "в",
        "g": "г",
        "d": "д",
        "e": "е",
        "z": "з",
        "i": "и",
        "j": "й",
        "k": "к",
        "l": "л",
        "m": "м",
        "n": "н",
        "o": "о",
        "p": "п",
        "r": "р",
        "s": "с",
        "t": "т",
        "u": "у",
        "f": "ф",
        "h": "х",
        "c": "ц",
        "y": "ы",
        "w": "в",
        "x": "кс",
        "q": "к",
        "'": "ь",
    }
)
_LATIN_WORD = re.compile(r"[a-z']+")


def translit_reading(text: str) -> str | None:
    """The Cyrillic reading of Russian typed in Latin letters, when the text looks like
    it (at least two common transliterated words); None otherwise."""
    words = _LATIN_WORD.findall(text.lower())
    if sum(1 for w in words if w in _TRANSLIT_MARKERS) < 2:
        return None
    return _LATIN_WORD.sub(lambda m: _to_cyrillic(m.group(0)), text.lower())


@lru_cache(maxsize=20_000)  # a log repeats its words: each is read once
def _to_cyrillic(word: str) -> str:
    for latin, cyrillic in _DIGRAPHS:
        word = word.replace(latin, cyrillic)
    return word.translate(_LETTERS)
