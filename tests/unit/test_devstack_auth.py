"""The local stack answers a token that is not a JWT with 401 instead of crashing."""

from devtools.server import _looks_like_jwt
from tests.conftest import make_token


def test_well_formed_tokens_pass_the_shape_check() -> None:
    assert _looks_like_jwt(make_token("s"))
    assert _looks_like_jwt("Bearer " + make_token("s"))


def test_malformed_tokens_fail_the_shape_check() -> None:
    for token in ("garbage", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", "a.WzFd.c"):
        assert not _looks_like_jwt(token)
