"""One local stack for the whole `tests/local` run (starting one takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local.stack import running_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[tuple[int, int]]:
    with running_stack() as ports:
        yield ports


@pytest.fixture(scope="session")
def stack(local_stack: tuple[int, int]) -> str:
    """The stack's name, as `SUPPORT_INTAKE_LOCAL` takes it."""
    return f"{local_stack[0]}:{local_stack[1]}"
