"""The first-response clock as pure transitions (R2.1, R2.2, R2.4); no AWS."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.clock import (
    SweepAction,
    after_delay_notice,
    after_staff_response,
    breached,
    delay_notice_fields,
    duty,
    end_wait,
    first_response_deadline,
    follow_up_deadline,
    require_future_eta,
    sweep_action,
    warned,
)
from chalicelib.errors import InvalidInput

T0 = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)  # Sunday 02:30 in Moscow: R1.2, no calendar


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_r2_1_deadline_is_sixty_minutes_around_the_clock() -> None:
    sla = first_response_deadline(T0, 60)
    assert sla.state == "pending"
    assert sla.due_at == "2026-11-29T00:30:00.000+00:00"


@pytest.mark.parametrize(
    ("minutes", "action"),
    [(44, None), (45, SweepAction.WARN), (46, SweepAction.WARN), (60, SweepAction.BREACH)],
)
def test_r2_4_sweep_warns_fifteen_minutes_before_and_breaches_at_the_deadline(
    minutes: int, action: SweepAction | None
) -> None:
    assert sweep_action(first_response_deadline(T0, 60), at(minutes), 15) is action


def test_r2_4_a_warned_deadline_is_not_warned_again() -> None:
    sla = warned(first_response_deadline(T0, 60), at(46))
    assert sla.state == "warned"
    assert sweep_action(sla, at(50), 15) is None
    assert sweep_action(sla, at(61), 15) is SweepAction.BREACH


def test_r2_4_a_breach_is_never_erased_by_a_late_answer() -> None:
    sla = breached(first_response_deadline(T0, 60), at(61))
    answered = after_staff_response(sla, at(70))
    assert answered.state == "breached"
    assert answered.first_response_at == "2026-11-29T00:40:00.000+00:00"
    assert sweep_action(answered, at(200), 15) is None


def test_r2_2_notice_before_the_deadline_is_the_first_response_and_moves_it() -> None:
    sla = after_delay_notice(first_response_deadline(T0, 60), at(30), at(180))
    assert sla.state == "delayed"
    assert sla.first_response_at == "2026-11-29T00:00:00.000+00:00"
    assert sweep_action(sla, at(61), 15) is None
    assert sweep_action(sla, at(166), 15) is SweepAction.WARN
    assert warned(sla, at(166)).state == "delayed"
    assert sweep_action(sla, at(181), 15) is SweepAction.BREACH
    assert after_staff_response(sla, at(100)).state == "met"


def test_r2_2_notice_after_a_breach_does_not_undo_it() -> None:
    sla = breached(first_response_deadline(T0, 60), at(61))
    assert after_delay_notice(sla, at(70), at(200)) == sla


@pytest.mark.parametrize(
    ("reason", "eta", "code"),
    [
        (None, "2026-11-29T05:00:00+00:00", "reason_required"),
        ("", "2026-11-29T05:00:00+00:00", "reason_required"),
        ("r" * 2001, "2026-11-29T05:00:00+00:00", "reason_too_long"),
        ("busy", None, "eta_required"),
        ("busy", "tomorrow", "invalid_eta"),
        ("busy", "2026-11-29T05:00:00", "invalid_eta"),
        ("busy", "2026-11-28T23:30:00+00:00", "eta_in_past"),
        ("busy", "2026-11-28T23:00:00+00:00", "eta_in_past"),
    ],
)
def test_r2_2_notice_without_reason_or_with_past_eta_is_rejected(
    reason: object, eta: object, code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        delay_notice_at_t0(reason, eta)
    assert caught.value.code == code


def delay_notice_at_t0(reason: object, eta: object) -> None:
    """What the route and the desk check of a delay notice posted at T0 (R2.2)."""
    _, when = delay_notice_fields(reason, eta)
    require_future_eta(when, T0)


def test_r2_2_eta_with_any_offset_is_accepted() -> None:
    reason, eta = delay_notice_fields(" Disk replacement ", "2026-11-29T05:00:00+03:00")
    require_future_eta(eta, T0)
    assert reason == "Disk replacement"
    assert eta == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_a_solved_or_closed_tickets_ended_wait_stays_ended() -> None:
    running = first_response_deadline(T0, 60)
    ended = end_wait(running, at(10))
    assert duty(ended) is None and ended.ended_at is not None
    assert after_delay_notice(ended, at(20), at(180)) == ended  # not back in the index
    assert after_staff_response(ended, at(90)).state != "breached"  # no late breach either
    follow = follow_up_deadline(ended, at(30), 60)
    assert follow is not None and duty(follow) is not None and follow.ended_at is None
    assert [w.responded_at for w in follow.history] == [None]
