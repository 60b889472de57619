"""The hall's calendar in `controller.core.clock`: business days, opening hours, local times.

Covers the business day across the numbering reset and across time zones (the same
instant is a different business day in another zone), the reset at midnight, opening
hours (opens inclusive, closes exclusive, in the hall's zone) and `iso`.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from controller.config.model import BusinessDay
from controller.core.clock import business_day, iso, local, within_hours

UTC = ZoneInfo("UTC")


def day(tz: str = "Asia/Shanghai", resets: time = time(3, 0), opens: time = time(8, 30),
        closes: time = time(17, 30)) -> BusinessDay:
    return BusinessDay(ZoneInfo(tz), opens, closes, resets, True)


def utc(year: int, month: int, d: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, d, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2024, 3, 3, 18, 59, 59), "2024-03-03"),  # 02:59:59 on the 4th in Beijing
        (utc(2024, 3, 3, 19, 0, 0), "2024-03-04"),  # 03:00 on the 4th in Beijing
        (utc(2024, 3, 4, 0, 0, 0), "2024-03-04"),  # 08:00 Beijing
        (utc(2024, 3, 4, 15, 59, 59), "2024-03-04"),  # 23:59:59 Beijing
        (utc(2024, 3, 4, 16, 0, 0), "2024-03-04"),  # midnight Beijing: still the 4th's day
        (utc(2024, 3, 4, 18, 59, 59), "2024-03-04"),
        (utc(2024, 3, 4, 19, 0, 0), "2024-03-05"),
        (utc(2023, 12, 31, 19, 0, 0), "2024-01-01"),  # across a year
        (utc(2024, 2, 29, 18, 0, 0), "2024-02-29"),  # 02:00 on 1 March: the leap day's
    ],
)
def test_business_day_across_the_reset_in_beijing(instant: float, expected: str) -> None:
    assert business_day(instant, day()) == expected


def test_business_day_depends_on_the_zone() -> None:
    instant = utc(2024, 3, 4, 20, 0)  # 04:00 in Beijing on the 5th; 20:00 in London the 4th
    assert business_day(instant, day("Asia/Shanghai")) == "2024-03-05"
    assert business_day(instant, day("Europe/London")) == "2024-03-04"
    # a 21:00 reset: the day from 21:00 on the 3rd holds the opening hours of the 4th
    assert business_day(instant, day("UTC", resets=time(21, 0))) == "2024-03-04"


def test_business_day_with_a_midnight_reset_is_the_calendar_date() -> None:
    d = day(resets=time(0, 0))
    assert business_day(utc(2024, 3, 4, 15, 59, 59), d) == "2024-03-04"
    assert business_day(utc(2024, 3, 4, 16, 0, 0), d) == "2024-03-05"


def test_business_day_across_a_dst_change() -> None:
    # Berlin springs forward on 31 March 2024 at 02:00; the reset at 03:00 local still holds
    d = day("Europe/Berlin")
    assert business_day(utc(2024, 3, 31, 0, 59, 59), d) == "2024-03-30"  # 01:59:59 CET
    assert business_day(utc(2024, 3, 31, 1, 0, 0), d) == "2024-03-31"  # 03:00 CEST
    assert business_day(utc(2024, 10, 27, 1, 59, 59), d) == "2024-10-26"  # 02:59:59 CET
    assert business_day(utc(2024, 10, 27, 2, 0, 0), d) == "2024-10-27"  # 03:00 CET


def test_business_day_with_an_evening_reset_is_the_day_of_the_opening_hours() -> None:
    d = day(resets=time(22, 0))
    # 09:00 on 4 March in Beijing: the hall is open for the business of 4 March
    assert business_day(utc(2024, 3, 4, 1, 0), d) == "2024-03-04"


@pytest.mark.parametrize(
    ("local_time", "open_"),
    [((8, 29, 59), False), ((8, 30, 0), True), ((12, 0, 0), True), ((17, 29, 59), True),
     ((17, 30, 0), False), ((23, 0, 0), False), ((2, 0, 0), False)],
)
def test_within_hours_opens_inclusive_closes_exclusive(local_time: tuple[int, int, int],
                                                        open_: bool) -> None:
    h, m, s = local_time
    instant = datetime(2024, 3, 4, h, m, s, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert within_hours(instant, day()) is open_


def test_within_hours_uses_the_hall_zone() -> None:
    instant = utc(2024, 3, 4, 2, 0)  # 10:00 in Beijing, 02:00 in London
    assert within_hours(instant, day("Asia/Shanghai"))
    assert not within_hours(instant, day("Europe/London"))


def test_local_and_iso() -> None:
    instant = utc(2024, 3, 4, 1, 0)
    assert local(instant, day()) == datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert local(instant, day()).utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert iso(instant, day()) == "2024-03-04T09:00:00+08:00"
    assert iso(instant + 0.75, day()) == "2024-03-04T09:00:00+08:00"
    assert iso(instant, day("Europe/London")) == "2024-03-04T01:00:00+00:00"
    assert iso(None, day()) is None


# ---- the cached business day is the definition's -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from controller.core import clock  # noqa: E402

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Asia/Kathmandu"]


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES),
       resets=st.sampled_from([time(0, 0), time(1, 30), time(2, 0), time(3, 0), time(22, 0)]),
       start=st.floats(min_value=1.6e9, max_value=1.9e9),
       steps=st.lists(st.floats(min_value=-90_000, max_value=90_000), min_size=1, max_size=8))
def test_the_cached_business_day_equals_the_definition(
        zone: str, resets: time, start: float, steps: list[float]) -> None:
    """Instants walked back and forth across resets and daylight-saving changes: the cached
    answer is always the one computed from scratch."""
    d = day(zone, resets=resets)
    now = start
    for step in steps:
        now += step
        assert business_day(now, d) == clock._business_day(now, d), (zone, resets, now)


def test_each_hall_day_is_cached_separately() -> None:
    shanghai, york = day("Asia/Shanghai"), day("America/New_York")
    instant = utc(2024, 3, 4, 20, 0)  # 04:00 on the 5th in Beijing, 15:00 on the 4th in NY
    for _ in range(2):
        assert business_day(instant, shanghai) == "2024-03-05"
        assert business_day(instant, york) == "2024-03-04"
