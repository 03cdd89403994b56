"""The classifier is linear in its input and reads a bounded excerpt (issue: real-world mail)."""

from __future__ import annotations

import random

from chalicelib.classify import TEXT_CHARS, classify_request, default_classifier
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
