"""The hall's local calendar: business days and opening hours, from an epoch time.

The core is handed `now` (epoch seconds) by the shell and never reads the clock itself.

`closes = "24:00"` (open to the end of the day) is held as midnight, END_OF_DAY: no other
closing time can be midnight, as closes is later than opens. Read through `closes_at_end`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from controller.config.model import BusinessDay

END_OF_DAY = time(0, 0)


def closes_at_end(day: BusinessDay) -> bool:
    """Whether the hall is open to the end of the day (`closes = "24:00"`)."""
    return day.closes == END_OF_DAY


def closes_text(day: BusinessDay) -> str:
    """The closing time as people read it: 24:00, not 00:00, for a hall open to midnight."""
    return "24:00" if closes_at_end(day) else f"{day.closes:%H:%M}"


# What `datetime` can hold in any zone, with days to spare for the offsets and for the
# day arithmetic of `business_day`. The core bounds the times it accepts (notices, slots)
# far inside this; the clamp is for what is already in a log (a notice ending in 9999,
# accepted before its bound) so that rendering it can never fail.
_FIRST = datetime(1, 1, 3, tzinfo=UTC).timestamp()
_LAST = datetime(9999, 12, 29, tzinfo=UTC).timestamp()


def local(now: float, day: BusinessDay) -> datetime:
    """`now` in the hall's zone; an instant beyond what a datetime holds (or NaN) is
    clamped to the nearest end instead of raising."""
    if not _FIRST <= now <= _LAST:
        now = _LAST if now > 0 else _FIRST
    return datetime.fromtimestamp(now, day.timezone)


# Per BusinessDay (by identity): the span [start, end) of the business day last asked
# for, and its name. Every command asks for the day of `now`: a time-zone conversion per
# command otherwise, which is a few per cent of issuing a ticket.
_SPANS: dict[int, tuple[BusinessDay, float, float, str]] = {}


def business_day(now: float, day: BusinessDay) -> str:
    """The date of the opening hours whose numbering is in force. A day runs from one reset
    to the next; it is named after the opening hours it holds, so with an evening reset
    (22:00) the stretch from 22:00 on the 3rd is already the 4th."""
    span = _SPANS.get(id(day))
    if span is not None and span[0] is day and span[1] <= now < span[2]:
        return span[3]
    name = _business_day(now, day)
    found = _span(now, day, name)
    if found is not None:
        _SPANS[id(day)] = (day, found[0], found[1], name)
    return name


def _span(now: float, day: BusinessDay, name: str) -> tuple[float, float] | None:
    """[start, end) of the business day holding `now`, checked against the definition
    itself at both ends; None where the zone's rules make that doubtful (a reset inside a
    daylight-saving jump): those instants are simply not cached."""
    resets = day.numbering_resets
    t = local(now, day)
    base = (t - timedelta(hours=resets.hour, minutes=resets.minute)).date()
    start = datetime.combine(base, resets, day.timezone).timestamp()
    end = datetime.combine(base + timedelta(days=1), resets, day.timezone).timestamp()
    if not (start <= now < end and _business_day(start, day) == name
            and _business_day(end - 0.001, day) == name and _business_day(end, day) != name):
        return None
    return start, end


def _business_day(now: float, day: BusinessDay) -> str:
    t = local(now, day)
    resets = day.numbering_resets
    shifted = t - timedelta(hours=resets.hour, minutes=resets.minute)
    # Evening reset: the opening hours come after it. With closes at 24:00, none is.
    if resets >= day.closes and not closes_at_end(day):
        shifted += timedelta(days=1)
    return shifted.date().isoformat()


def within_hours(now: float, day: BusinessDay) -> bool:
    t = local(now, day).time()
    return day.opens <= t and (t < day.closes or closes_at_end(day))


def iso(at: float | None, day: BusinessDay) -> str | None:
    """An instant as ISO 8601 in the hall's own zone, as people at the hall read it."""
    if at is None:
        return None
    return local(at, day).isoformat(timespec="seconds")


def parse_instant(text: str) -> float:
    """ISO 8601 with a UTC offset to epoch seconds; a time without an offset is refused,
    because a hall, its cloud and its clerks may not share a zone."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("the time needs a UTC offset, e.g. 2026-11-30T09:00:00+08:00")
    return parsed.timestamp()
