"""Key formats: page tokens are opaque and cannot carry another customer's partition."""

import re

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.storage.keys import (
    AUDIT_POSITION,
    CONTACT_POSITION,
    CUSTOMER_POSITION,
    DEADLINE_SHARDS,
    LINKED_POSITION,
    PAST_INCIDENT_POSITION,
    QUEUE_POSITION,
    deadline_keys,
    deadline_shard,
    decode_position_token,
    encode_position_token,
)

PATTERNS = [
    CUSTOMER_POSITION,
    QUEUE_POSITION,
    CONTACT_POSITION,
    AUDIT_POSITION,
    LINKED_POSITION,
    PAST_INCIDENT_POSITION,
]


def test_page_token_round_trips_only_the_position() -> None:
    token = encode_position_token("2026-11-24T10:00:00.000+00:00#T-ABC1234")
    assert decode_position_token(token, CUSTOMER_POSITION).endswith("#T-ABC1234")


def test_a_token_of_one_query_is_refused_by_another() -> None:
    """One codec, one pattern per paged query: a queue position is no customer's page."""
    queue = encode_position_token("1#2026-11-24T10:00:00.000+00:00#T-ABC1234")
    with pytest.raises(InvalidInput):
        decode_position_token(queue, CUSTOMER_POSITION)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.pattern[:20])
@pytest.mark.parametrize("token", ["", "%%%", "e30", "bm90IGpzb24", "eyJrIjoibm9oYXNoIn0"])
def test_forged_or_broken_tokens_are_400(token: str, pattern: re.Pattern[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_position_token(token, pattern)
    assert caught.value.code == "invalid_next"


def test_deadline_shards_are_stable_and_spread() -> None:
    ids = [f"T-{i:07d}" for i in range(800)]
    shards = {deadline_shard(i) for i in ids}
    assert shards == set(range(DEADLINE_SHARDS))
    assert deadline_shard("T-0000001") == deadline_shard("T-0000001")


def test_deadline_sort_key_orders_by_due_time() -> None:
    early = deadline_keys("T-B", "2026-11-24T10:00:00.000+00:00")["GSI2SK"]
    late = deadline_keys("T-A", "2026-11-24T11:00:00.000+00:00")["GSI2SK"]
    assert early < late
