"""Key formats: page tokens are opaque and cannot carry another customer's partition."""

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.storage.keys import (
    DEADLINE_SHARDS,
    deadline_keys,
    deadline_shard,
    decode_page_token,
    encode_page_token,
)


def test_page_token_round_trips_only_the_position() -> None:
    token = encode_page_token(
        {"GSI1SK": "2026-11-24T10:00:00.000+00:00#T-ABC1234", "GSI1PK": "CUST#x"}
    )
    assert "CUST" not in decode_page_token(token)
    assert decode_page_token(token).endswith("#T-ABC1234")


@pytest.mark.parametrize("token", ["", "%%%", "e30", "bm90IGpzb24", "eyJrIjoibm9oYXNoIn0"])
def test_forged_or_broken_tokens_are_400(token: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_page_token(token)
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
