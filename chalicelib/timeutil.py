"""Instants: always timezone-aware, stored and returned as ISO 8601 UTC with milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
# Instants outside these years are not support-desk times; refusing them here keeps
# `astimezone` and deadline arithmetic from overflowing at year 1 or 9999.
MIN_YEAR, MAX_YEAR = 1970, 2200


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """Fixed-width UTC form, so that stored strings sort in time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 instant; an instant without an offset is ambiguous and refused."""
    if len(text) > 64:
        raise ValueError("not an instant")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time without offset")
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"outside the years {MIN_YEAR}-{MAX_YEAR}")
    return moment
