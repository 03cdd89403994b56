"""Items are written in DynamoDB's wire form exactly as boto3's TypeSerializer writes them
(`chalicelib.storage.codec.wire` writes the common values itself, issue 29)."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import given, settings, strategies as st

from chalicelib.storage.codec import dump, wire


class Colour(enum.StrEnum):
    RED = "red"


class Count(int):
    pass


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.just(10**38 - 1)
    | st.just(-(10**38) + 1)
    | st.just(10**38)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=8)
    | st.sampled_from([Colour.RED, Count(3), Binary(b"x"), b"", ""])
    | st.frozensets(st.text(max_size=5), min_size=1, max_size=3).map(set)
    | st.frozensets(st.integers(), min_size=1, max_size=3).map(set)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def serialised(value: Any) -> tuple[str, Any]:
    """The wire form, or the kind of error, from each writer."""
    try:
        return "ok", wire(value)
    except Exception as error:
        return "error", type(error)


def boto3s(value: Any) -> tuple[str, Any]:
    try:
        return "ok", TypeSerializer().serialize(value)
    except Exception as error:
        return "error", type(error)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_every_value_is_written_as_boto3_writes_it(value: Any) -> None:
    assert serialised(value) == boto3s(value)


@pytest.mark.parametrize(
    "value",
    [10**38 - 1, -(10**38) + 1, 10**38, -(10**38), 0, True, False, Decimal("1.50"), 1.5],
)
def test_the_edges_of_numbers_and_flags(value: Any) -> None:
    assert serialised(value) == boto3s(value)


def test_an_item_leaves_out_its_none_attributes() -> None:
    item = {"PK": "REQ#T-1", "gone": None, "scope": {"flags": [], "sub": None}, "n": 2}
    assert dump(item) == {
        "PK": {"S": "REQ#T-1"},
        "scope": {"M": {"flags": {"L": []}, "sub": {"NULL": True}}},
        "n": {"N": "2"},
    }
