"""New ids (`chalicelib.ids`): their shape, every character of the alphabet equally
likely, and one draw from the system's random source per id (issue 29: a ticket's two
ids cost 38 system calls, each a chance for other threads to take the interpreter)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import ids

MAKERS: list[tuple[Callable[[], str], str]] = [
    (ids.new_ticket_id, r"T-[0-9A-HJKMNP-TV-Z]{7}"),
    (ids.new_message_id, r"M-[0-9A-HJKMNP-TV-Z]{12}"),
    (ids.new_macro_id, r"K-[0-9A-HJKMNP-TV-Z]{10}"),
    (ids.new_quote_id, r"Q-[0-9A-HJKMNP-TV-Z]{10}"),
    (ids.new_incident_id, r"I-[0-9A-HJKMNP-TV-Z]{10}"),
    (ids.new_attachment_id, r"A-[0-9A-HJKMNP-TV-Z]{12}"),
    (ids.new_event_id, r"E-[0-9A-HJKMNP-TV-Z]{12}"),
]


@pytest.mark.parametrize(("make", "shape"), MAKERS)
def test_each_kind_of_id_has_its_shape(make: Callable[[], str], shape: str) -> None:
    made = [make() for _ in range(200)]
    assert all(re.fullmatch(shape, one) for one in made)
    assert len(set(made)) == len(made)


def test_every_character_is_equally_likely_in_every_place() -> None:
    """20,000 ticket ids: each of the 32 characters in each of the 7 places about 625
    times (a count outside 500..750 has a chance below one in a million)."""
    made = [ids.new_ticket_id()[2:] for _ in range(20_000)]
    for place in range(7):
        counts = Counter(one[place] for one in made)
        assert set(counts) == set(ids._ALPHABET)
        assert all(500 <= n <= 750 for n in counts.values()), (place, counts)


def test_an_id_is_one_draw_from_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    urandom: Any = random._urandom  # type: ignore[attr-defined]  # the source SystemRandom reads

    def counted(size: int) -> bytes:
        drawn.append(size)
        return bytes(urandom(size))

    monkeypatch.setattr(random, "_urandom", counted)
    ids.new_ticket_id()
    ids.new_event_id()
    assert drawn == [5, 8]  # 35 and 60 bits
