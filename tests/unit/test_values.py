"""`@frozen` (chalicelib/values.py) behaves as `@dataclass(frozen=True)` does: equality,
hash, repr, immutability, `replace`, `asdict`, pattern matching (issue 29: it only
shares three methods that the dataclass would compile for each class)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.values import frozen


@frozen
class Mail:
    to: str
    subject: str = ""
    data: bytes = field(default=b"", repr=False)
    seen: int = field(default=0, compare=False)


@dataclass(frozen=True)
class MailTwin:
    to: str
    subject: str = ""
    data: bytes = field(default=b"", repr=False)
    seen: int = field(default=0, compare=False)


@frozen
class One:
    name: str


@frozen
class Empty:
    pass


@frozen
class Child(One):
    extra: tuple[str, ...] = ()


CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"to": "a@x"}, {"to": "a@x"}),
    ({"to": "a@x", "subject": "s"}, {"to": "a@x", "subject": "t"}),
    ({"to": "a@x", "seen": 1}, {"to": "a@x", "seen": 2}),  # not compared
    ({"to": "a@x", "data": b"1"}, {"to": "a@x", "data": b"2"}),
    ({"to": "a@x", "subject": float("nan")}, {"to": "a@x", "subject": float("nan")}),
]


@pytest.mark.parametrize(("left", "right"), CASES)
def test_it_compares_hashes_and_shows_as_the_dataclass_does(
    left: dict[str, Any], right: dict[str, Any]
) -> None:
    mine, theirs = (Mail(**left), Mail(**right)), (MailTwin(**left), MailTwin(**right))
    assert (mine[0] == mine[1]) == (theirs[0] == theirs[1])
    assert (mine[0] != mine[1]) == (theirs[0] != theirs[1])
    if theirs[0] == theirs[1]:
        assert hash(mine[0]) == hash(mine[1])
    assert repr(mine[0]) == repr(theirs[0]).replace("MailTwin(", "Mail(")
    assert len({mine[0], mine[1]}) == len({theirs[0], theirs[1]})


def test_it_is_a_frozen_dataclass() -> None:
    mail = Mail("a@x", "s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        mail.to = "b@x"  # type: ignore[misc]
    assert dataclasses.replace(mail, subject="t") == Mail("a@x", "t")
    assert dataclasses.asdict(mail) == {"to": "a@x", "subject": "s", "data": b"", "seen": 0}
    match mail:
        case Mail(to, subject):
            assert (to, subject) == ("a@x", "s")
    assert Mail("a@x") != MailTwin("a@x") and Mail("a@x") != ("a@x", "", b"", 0)


def test_one_field_no_field_and_a_subclass() -> None:
    assert One("a") == One("a") and One("a") != One("b") and hash(One("a")) == hash(One("a"))
    assert repr(One("a")) == "One(name='a')"
    assert Empty() == Empty() and hash(Empty()) == hash(Empty()) and repr(Empty()) == "Empty()"
    assert Child("a", ("x",)) == Child("a", ("x",)) and Child("a") != One("a")
    assert Child("a") != Child("a", ("x",))
    assert repr(Child("a")) == "Child(name='a', extra=())"
