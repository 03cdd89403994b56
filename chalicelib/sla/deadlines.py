"""Deadlines of official tickets (R2.1): the clock runs around the clock, no calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.models import Sla
from chalicelib.timeutil import to_iso


def first_response_deadline(created_at: datetime, minutes: int) -> Sla:
    """R2.1: the first staff response is due `minutes` after creation; R1.2 means 24/7."""
    return Sla(state="pending", due_at=to_iso(created_at + timedelta(minutes=minutes)))
