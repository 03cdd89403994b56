"""The classifier is linear in its input and reads a bounded excerpt (issue: real-world mail)."""

from __future__ import annotations

import random

from chalicelib.classify import TEXT_CHARS, classify_request, default_classifier
from chalicelib.classify.clean import is_machine_line, own_words
from chalicelib.classify.engine import Hit, _nearest
from chalicelib.classify.text import tokenize


def test_a_long_line_without_spaces_is_classified() -> None:
    scope, _ = classify_request("Ошибка", "x" * 200_000 + " не работает почта", "email")
    assert scope.label == "unclear"  # the excerpt ends long before the words


def test_addresses_are_still_not_words() -> None:
    assert [t.norm for t in tokenize("почта sergey@vetclinic.ru и https://x.example/ru")] == [
        "почта",
        "и",
    ]


def test_window_matching_on_repeated_cue_words_gives_the_nearest_pair() -> None:
    rules = default_classifier().rules
    text = "не работает сайт ошибка 502 mysql почта ftp " * 3_000  # 140 KB, unbounded here
    decision = rules.decide(rules.document("Сбой", text))
    assert decision is not None and decision.label == "outage"


def test_nearest_hit_is_what_a_full_scan_would_pick() -> None:
    chooser = random.Random(7)
    for _ in range(500):
        starts = sorted(chooser.randrange(40) for _ in range(chooser.randrange(1, 12)))
        hits = [Hit(f"c{i}", s, s, "text", "") for i, s in enumerate(starts)]
        position = chooser.randrange(-5, 45)
        expected = min(hits, key=lambda h: abs(h.start - position))
        assert _nearest(hits, starts, position) is expected


def test_abuse_past_the_excerpt_is_still_flagged() -> None:
    text = "Сайт не работает. " * (TEXT_CHARS // 18 + 10) + "you idiots"
    scope, _ = classify_request("Сайт", text, "email")
    assert "abusive" in scope.flags


LOG = (
    '203.0.113.{n} - - [04/Dec/2026:10:{n:02d}:11 +0000] "GET /item-{n}.html HTTP/1.1" 502 166 '
    '"-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"'
)


def test_a_pasted_log_is_read_by_its_first_line_not_every_line() -> None:
    """Issues 29 and 30: the request's own words keep a log's first line (the error is
    usually there); the same shape again adds nothing but time."""
    log = "\n".join(LOG.format(n=n) for n in range(40))
    text = f"Сайт отдаёт 502 на половине страниц. Лог nginx:\n{log}\nЧто с сервером?"
    own = own_words(text)
    assert LOG.format(n=0) in own and LOG.format(n=1) not in own
    assert "Что с сервером?" in own
    for line in ("Traceback (most recent call last):", "С 18:00 не открывается сайт example.ru"):
        assert not is_machine_line(line)
    assert is_machine_line("2026-12-04 10:11:12 ERROR mysqli_connect(): (HY000/2002): refused")
    scope, _ = classify_request("Сайт не работает", text, "email")
    assert scope.label == "outage"


def test_abuse_past_the_excerpt_is_read_between_the_lines_of_a_log() -> None:
    log = "\n".join(LOG.format(n=n % 60) for n in range(TEXT_CHARS // 100 + 50))
    scope, _ = classify_request("Сайт", f"Сайт лежит.\n{log}\nyou idiots\n{log}", "email")
    assert "abusive" in scope.flags


def test_words_stemmed_on_many_threads_at_once_get_the_stems_one_thread_gives() -> None:
    """A snowball stemmer keeps its word in itself: eight threads stemming at once made
    wrong stems (remembered for good) and IndexErrors, a 500 on the local stack."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.classify import text as text_module
    from devtools import classify_data

    words = sorted(
        {
            w
            for row in classify_data.load("train")
            for w in text_module.normalise(row["text"]).split()
        }
    )
    for _ in range(3):
        text_module.stem.cache_clear()
        with ThreadPoolExecutor(8) as pool:
            parallel = list(pool.map(text_module.stem, words, chunksize=64))
        text_module.stem.cache_clear()
        assert parallel == [text_module.stem(word) for word in words]
