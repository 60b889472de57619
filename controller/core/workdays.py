"""Working days (工作日): weekends skipped, the hall's holidays skipped, its make-up
working days (调休) counted. Promised cases, 容缺 deadlines, follow-ups and complaints all
count in working days, as the standard's deadlines do."""

from __future__ import annotations

from datetime import date, timedelta

from controller.catalog.model import CaseRules
from controller.config.model import BusinessDay
from controller.core.clock import local


def is_working(day: date, rules: CaseRules) -> bool:
    text = day.isoformat()
    if text in rules.workdays:
        return True
    return day.weekday() < 5 and text not in rules.holidays


def add_working_days(start: date, days: int, rules: CaseRules) -> date:
    """The date `days` working days after `start` (the day of acceptance does not count,
    as a promise of "3 working days" made on Friday ends on Wednesday)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if is_working(current, rules):
            left -= 1
    return current


def today(now: float, day: BusinessDay) -> date:
    return local(now, day).date()


def due(now: float, days: int, rules: CaseRules, day: BusinessDay) -> str:
    """The deadline, as YYYY-MM-DD: work is due by the end of that day, local time."""
    return add_working_days(today(now, day), days, rules).isoformat()


def past(due_date: str, now: float, day: BusinessDay) -> bool:
    """True once the whole due date has gone by."""
    return today(now, day).isoformat() > due_date
