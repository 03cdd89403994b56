"""The first-response clock of official tickets (R2), as pure state transitions.

States (API.md): `pending` → `warned` (R2.4) → `breached` (R2.4, never erased);
`met` once staff answer in time; `delayed` while a delay notice (R2.2) is in force,
its ETA being the next deadline; `withdrawn` when the customer closed the ticket while
waiting (R2.8). The clock runs around the clock (R1.2, R2.1). A breach stays the
current wait until a staff answer settles it (R2.7): a delay notice before the deadline
is the first response, but only an answer ends the wait.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import Enum

from chalicelib.domain.tickets import Sla, Wait
from chalicelib.errors import InvalidInput
from chalicelib.timeutil import parse_iso, to_iso
from chalicelib.validation import clean_text

OPEN_STATES = ("pending", "warned", "delayed")
REASON_MAX = 2_000


class SweepAction(Enum):
    WARN = "warn"
    BREACH = "breach"


class Duty(Enum):
    """What a running clock is owed next (R2.4); the deadline index is kept by it."""

    WARN = "warn"  # pending, or delayed and not yet warned: a warning before due_at
    BREACH = "breach"  # warned: a breach at due_at
    ANSWER = "answer"  # breached and unanswered: only a staff answer settles it (R2.7)


def duty(sla: Sla | None) -> Duty | None:
    """The duty of a clock, or None once nothing more is owed (met, or answered late)."""
    if sla is None or sla.due_at is None or sla.ended_at:
        return None
    if sla.state in ("pending", "delayed"):
        return Duty.BREACH if sla.warned_at else Duty.WARN
    if sla.state == "warned":
        return Duty.BREACH
    if sla.state == "breached" and sla.answered_at is None:
        return Duty.ANSWER  # also a delay notice's ETA that passed: it answered nothing
    return None


def waiting(sla: Sla | None) -> bool:
    """R2.8: the customer waits for staff on this clock."""
    return duty(sla) is not None


def follow_up_deadline(sla: Sla, now: datetime, minutes: int) -> Sla | None:
    """R2.5: a customer message after the last wait was answered starts a new wait, due
    `minutes` from now and swept like the first; None while the current wait still runs
    (the customer adds to what staff owe, and the deadline stands)."""
    if duty(sla) is not None:
        return None  # R2.7: a breach stays the current wait until staff answer it
    done = Wait(sla.started_at, sla.due_at, sla.answered_at or sla.first_response_at, sla.state)
    return Sla(
        state="pending",
        due_at=to_iso(now + timedelta(minutes=minutes)),
        started_at=to_iso(now),
        history=(*sla.history, done),
    )


def end_wait(sla: Sla, now: datetime, *, withdrawn: bool = False) -> Sla:
    """The request was closed while staff still owed an answer: the wait ends and nothing
    more is owed on it. A customer closing their own ticket withdraws the wait (R2.8:
    neither met nor breached); a breach that already happened stays a breach."""
    if duty(sla) is None:
        return sla
    state = "withdrawn" if withdrawn and sla.state != "breached" else sla.state
    return replace(sla, state=state, ended_at=to_iso(now))


def first_response_deadline(created_at: datetime, minutes: int) -> Sla:
    """R2.1: the first staff response is due `minutes` after creation; R1.2 means 24/7."""
    return Sla(state="pending", due_at=to_iso(created_at + timedelta(minutes=minutes)))


def sweep_action(sla: Sla, now: datetime, warning_minutes: int) -> SweepAction | None:
    """What the sweep must do to a deadline now (R2.4); None when nothing is due."""
    if sla.state not in OPEN_STATES or sla.due_at is None or sla.ended_at:
        return None
    due = parse_iso(sla.due_at)
    if due <= now:
        return SweepAction.BREACH
    if sla.warned_at is None and due - timedelta(minutes=warning_minutes) <= now:
        return SweepAction.WARN
    return None


def warned(sla: Sla, now: datetime) -> Sla:
    """R2.4 warning. A delay notice in force stays `delayed`; it only gains `warned_at`."""
    state = "warned" if sla.state == "pending" else sla.state
    return replace(sla, state=state, warned_at=to_iso(now))


def breached(sla: Sla, now: datetime) -> Sla:
    return replace(sla, state="breached", breached_at=to_iso(now))


def overdue(sla: Sla, now: datetime) -> bool:
    """R2.5: the clock was still running and its deadline has passed, sweep or no sweep."""
    return (
        sla.state in OPEN_STATES
        and sla.due_at is not None
        and not sla.ended_at
        and parse_iso(sla.due_at) < now
    )


def late(sla: Sla) -> Sla:
    """The breach of a deadline that passed unnoticed: it happened at `due_at`."""
    return replace(sla, state="breached", breached_at=sla.due_at)


def newly_breached(before: Sla | None, after: Sla | None) -> bool:
    return (
        before is not None
        and after is not None
        and before.state != "breached"
        and after.state == "breached"
    )


def after_staff_response(sla: Sla, now: datetime) -> Sla:
    """A staff answer: meets a running deadline in time, breaches it when late (R2.5),
    closes a delay, never erases a breach."""
    first = sla.first_response_at or to_iso(now)
    answered = sla.answered_at or to_iso(now)
    if overdue(sla, now):
        return replace(late(sla), first_response_at=first, answered_at=answered)
    if sla.state == "breached":
        return replace(sla, first_response_at=first, answered_at=answered)
    if sla.state in OPEN_STATES:
        return replace(sla, state="met", first_response_at=first, answered_at=answered)
    return sla


def after_delay_notice(sla: Sla, now: datetime, eta: datetime) -> Sla:
    """R2.2: a notice before the deadline counts as the first response; its ETA is next due.

    After the deadline (whether or not a sweep has noticed) the notice is recorded for
    the customer but the breach stands, and the ticket still waits for an answer.
    """
    if overdue(sla, now):
        return late(sla)
    if duty(sla) is not Duty.WARN and duty(sla) is not Duty.BREACH:
        return sla  # answered, breached, or ended by a solve or close: nothing to move
    return Sla(
        state="delayed",
        due_at=to_iso(eta),
        first_response_at=sla.first_response_at or to_iso(now),
        breached_at=None,
        warned_at=None,
    )


def require_future_eta(eta: datetime, now: datetime) -> None:
    """R2.2: a delay notice promises a time still to come."""
    if eta <= now:
        raise InvalidInput("eta_in_past", "the ETA must be in the future (R2.2)", field="eta")


def delay_notice_fields(reason: object, eta: object) -> tuple[str, datetime]:
    """R2.2: both fields are mandatory and well formed."""
    text = clean_text(reason, "reason", max_chars=REASON_MAX)
    assert text is not None  # required
    if not isinstance(eta, str) or not eta.strip():
        raise InvalidInput("eta_required", "a delay notice must give an ETA (R2.2)", field="eta")
    try:
        when = parse_iso(eta.strip())
    except ValueError:
        raise InvalidInput(
            "invalid_eta", "`eta` must be an ISO 8601 time with an offset", field="eta"
        ) from None
    return text, when


def minutes_between(start: str, end: str) -> float:
    return (parse_iso(end) - parse_iso(start)).total_seconds() / 60
