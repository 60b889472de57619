"""Notices (公告) for the hall wall: published by the cloud or a supervisor, until withdrawn
or past their end time."""

from __future__ import annotations

import math

from controller.core import commands as c
from controller.core import events as ev
from controller.core.errors import invalid, not_found
from controller.core.events import Event
from controller.core.state import HallState

MAX_NOTICE_LEN = 500
# A notice's end time is at most this far ahead: a hall notice (closures, holiday hours,
# policy changes) is about the coming months; "until further notice" is no end time.
# A bound also keeps every accepted time far inside what the calendar can render
# (`datetime` ends at year 9999: a time past it made reading the notices fail).
MAX_NOTICE_DAYS = 366


def publish(state: HallState, cmd: c.PublishNotice, now: float) -> list[Event]:
    text = cmd.text.strip()
    if not text:
        raise invalid("empty_notice", "a notice needs text")
    if len(text) > MAX_NOTICE_LEN:
        raise invalid("notice_too_long", f"a notice has at most {MAX_NOTICE_LEN} characters")
    if cmd.until is not None:
        if not math.isfinite(cmd.until):
            raise invalid("bad_until", "the notice's end time is not a time")
        if cmd.until <= now:
            raise invalid("notice_expired", "the notice's end time is already past")
        if cmd.until > now + MAX_NOTICE_DAYS * 86400.0:
            raise invalid("notice_too_far", f"a notice ends within {MAX_NOTICE_DAYS} days; "
                          "leave the end time out for a notice shown until withdrawn")
    data: dict[str, object] = {"notice_id": cmd.notice_id, "text": text}
    if cmd.until is not None:
        data["until"] = cmd.until
    return [Event(ev.NOTICE_PUBLISHED, data)]


def withdraw(state: HallState, cmd: c.WithdrawNotice) -> list[Event]:
    if cmd.notice_id not in state.notices:
        raise not_found("notice", f"no notice {cmd.notice_id}")
    return [Event(ev.NOTICE_WITHDRAWN, {"notice_id": cmd.notice_id})]


def active(state: HallState, now: float) -> list[dict[str, object]]:
    return [
        {"id": n.id, "text": n.text, "until": n.until}
        for n in sorted(state.notices.values(), key=lambda n: n.published_at)
        if n.until is None or n.until > now
    ]
