"""R1.3 staffed hours, every boundary, in the company zone (default Europe/Moscow)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.hours import SupportHours

MSK = ZoneInfo("Europe/Moscow")
hours = SupportHours("Europe/Moscow")


def msk(day: int, hh: int, mm: int) -> datetime:
    """A time in Moscow in the week of Monday 2026-11-23 (day 23 = Monday ... 29 = Sunday)."""
    return datetime(2026, 11, day, hh, mm, tzinfo=MSK)


@pytest.mark.parametrize(
    ("moment", "staffed"),
    [
        (msk(24, 8, 59), False),  # Tuesday, before the shift
        (msk(24, 9, 0), True),
        (msk(25, 0, 59), True),  # Wednesday 00:59 is Tuesday's shift
        (msk(25, 1, 0), False),
        (msk(27, 0, 30), True),  # Friday 00:30 belongs to Thursday's shift
        (msk(28, 0, 30), True),  # Saturday 00:30 belongs to Friday's shift
        (msk(28, 0, 59), True),
        (msk(28, 1, 0), False),
        (msk(28, 9, 59), False),  # Saturday opens at 10:00
        (msk(28, 10, 0), True),
        (msk(29, 0, 30), False),  # Sunday 00:30: Saturday's shift ended at midnight
        (msk(29, 23, 59), True),
        (msk(30, 0, 0), False),  # Sunday night, 00:00 Monday: closed
        (msk(30, 0, 30), False),
    ],
)
def test_r1_3_chat_and_skype_are_staffed_on_the_published_schedule(
    moment: datetime, staffed: bool
) -> None:
    assert hours.is_staffed("chat", moment) is staffed
    assert hours.is_staffed("skype", moment) is staffed


def test_r1_2_cabinet_and_email_are_always_open() -> None:
    night = msk(29, 3, 0)
    for channel in ("cabinet", "email"):
        assert hours.is_staffed(channel, night)
        assert hours.next_open(channel, night) is None


def test_r1_3_next_open_after_a_weekday_night_and_a_weekend_night() -> None:
    assert hours.next_open("chat", msk(25, 1, 0)) == msk(25, 9, 0)
    assert hours.next_open("chat", msk(28, 1, 0)) == msk(28, 10, 0)
    assert hours.next_open("chat", msk(30, 0, 0)) == msk(30, 9, 0)
    assert hours.next_open("chat", msk(24, 12, 0)) is None


def test_r1_3_instants_in_any_offset_are_judged_in_the_company_zone() -> None:
    assert hours.is_staffed("chat", datetime(2026, 11, 24, 6, 0, tzinfo=UTC))  # 09:00 MSK
    assert not hours.is_staffed("chat", datetime(2026, 11, 24, 5, 59, tzinfo=UTC))


def test_r1_3_shifts_keep_their_local_hours_across_daylight_saving() -> None:
    berlin = SupportHours("Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    # Sunday 2026-03-29 is the spring change; Monday's shift still opens at 09:00 local.
    assert not berlin.is_staffed("chat", datetime(2026, 3, 30, 8, 59, tzinfo=zone))
    assert berlin.is_staffed("chat", datetime(2026, 3, 30, 9, 0, tzinfo=zone))
    assert berlin.next_open("chat", datetime(2026, 3, 30, 2, 0, tzinfo=zone)) == datetime(
        2026, 3, 30, 9, 0, tzinfo=zone
    )
