"""Rules found wanting by a review, through `engine.execute` (and the API where one exists):

- a call-back (回呼) reaches only a ticket the window holds or could serve;
- appointment tickets are outside the walk-in quota (and per-person limit);
- a notice's end time is bounded, and the calendar never fails on a stored time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from controller.core import commands as c
from controller.core import events as ev
from controller.core.clock import business_day, iso, local
from controller.core.identity import keyed_hash
from controller.core.notices import MAX_NOTICE_DAYS
from controller.core.state import TicketStatus
from controller.core.views import queue_view
from tests.conftest import Api
from tests.unit.test_engine import MONDAY_9, Hall, category, make_cfg, types

DAY_S = 86400.0


# -- call-back ------------------------------------------------------------------------------


def test_call_back_only_at_the_holding_window_or_one_serving_the_category() -> None:
    # Windows: 1 {A, B}, 2 {A}, 3 {B, C}, 4 {C}.
    hall = Hall(make_cfg())
    t = hall.issue("A")
    hall.open(2, 3, 4)
    assert hall.call(2) is t
    hall.ok(c.Suspend(2))
    # Window 3 serves B and C, not A: it may not take window 2's suspended A ticket.
    refusal = hall.refused(c.CallBack(3, t.id))
    assert (refusal.code, refusal.status) == ("wrong_window", 409)
    assert "window 2" in refusal.detail
    assert (t.status, hall.state.suspended) == (TicketStatus.SUSPENDED, {t.id: t})
    assert hall.state.window(3).current is None
    # Window 1 serves A: it could have called the ticket next, so it may call it back.
    hall.open(1)
    assert types(hall.ok(c.CallBack(1, t.id))) == [ev.TICKET_CALLED_BACK]
    assert (t.status, t.window) == (TicketStatus.CALLED, 1)


def test_call_back_at_the_window_that_suspended_it_whatever_its_category() -> None:
    # A ticket transferred to window 4 by name (4 serves only C) and suspended there.
    hall = Hall(make_cfg())
    t = hall.issue("A")
    hall.open(2, 4)
    hall.call(2)
    hall.ok(c.Transfer(2, "需另窗办理", to_window=4))
    assert hall.call(4) is t
    hall.ok(c.Suspend(4))
    assert hall.refused(c.CallBack(3, t.id)).code == "window_closed"  # still checked first
    hall.ok(c.CallBack(4, t.id))
    assert (t.status, t.window) == (TicketStatus.CALLED, 4)


# -- quota -----------------------------------------------------------------------------------


def _quota_hall(quota: int = 2, per_person: int | None = None) -> Hall:
    def edit(raw: dict[str, Any]) -> None:
        category(raw, "A")["daily_quota"] = quota
        if per_person is None:
            category(raw, "A").pop("per_person_daily_limit", None)
        else:
            category(raw, "A")["per_person_daily_limit"] = per_person
    return Hall(make_cfg(edit), MONDAY_9 - 2 * 3600)


def _check_in(hall: Hall, who: str, tid: str) -> list[ev.Event]:
    ident = keyed_hash(b"k", who)
    hall.ok(c.CreateAppointment(f"ap-{tid}", "A", MONDAY_9, MONDAY_9 + 1800, ident))
    hall.now = MONDAY_9 + 60
    return hall.ok(c.CheckIn(tid, ident))


def test_appointment_tickets_do_not_use_up_the_walk_in_quota() -> None:
    hall = _quota_hall(quota=2)
    events = _check_in(hall, "11010519491231002X", "booked-1")
    assert types(events) == [ev.TICKET_ISSUED, ev.APPOINTMENT_CHECKED_IN]
    assert events[1].data["late"] is False
    hall.issue("A")
    hall.issue("A")  # the second walk-in: the booked ticket took no walk-in place
    assert hall.state.issued_today["A"] == 3
    refusal = hall.refused(c.IssueTicket("walk-3", "A", "kiosk"))
    assert refusal.code == "quota_reached"
    # Numbers stay one sequence: A001 booked, A002, A003 walk-ins.
    assert hall.state.tickets["booked-1"].number == "A001"
    # A restart counts the same from the log.
    fresh = hall.replay()
    assert fresh.booked_by_day == hall.state.booked_by_day == {"2024-03-04": {"A": 1}}
    # The queue view (the dashboard's "2/2 +1") says what the quota counts.
    [a] = [x for x in queue_view(hall.state, hall.cfg)["categories"] if x["prefix"] == "A"]
    assert (a["issued_today"], a["walk_ins_today"], a["daily_quota"]) == (3, 2, 2)


def test_a_booked_ticket_is_outside_the_per_person_limit() -> None:
    hall = _quota_hall(quota=50, per_person=1)
    who = "11010519491231002X"
    _check_in(hall, who, "booked-1")
    ident = keyed_hash(b"k", who)
    hall.ok(c.IssueTicket("walk-1", "A", "idcard", None, ident))  # the booking was not it
    assert hall.refused(c.IssueTicket("walk-2", "A", "idcard", None, ident)).code == (
        "person_limit")


# -- notices and the calendar ------------------------------------------------------------------


def test_a_notice_ends_within_a_year_of_its_publication() -> None:
    hall = Hall(make_cfg())
    far = datetime.fromisoformat("9999-12-31T23:59:59-14:00").timestamp()
    refusal = hall.refused(c.PublishNotice("n1", "长期公告", far))
    assert (refusal.code, refusal.status) == ("notice_too_far", 400)
    assert hall.refused(c.PublishNotice("n1", "x", MONDAY_9 + (MAX_NOTICE_DAYS + 1) * DAY_S)
                        ).code == "notice_too_far"
    assert hall.refused(c.PublishNotice("n1", "x", float("nan"))).code == "bad_until"
    assert hall.refused(c.PublishNotice("n1", "x", float("inf"))).code == "bad_until"
    assert hall.refused(c.PublishNotice("n1", "x", MONDAY_9)).code == "notice_expired"
    assert hall.state.notices == {}
    hall.ok(c.PublishNotice("n1", "x", MONDAY_9 + MAX_NOTICE_DAYS * DAY_S))
    hall.ok(c.PublishNotice("n2", "直到撤下"))  # no end time: until withdrawn


def test_the_calendar_never_fails_on_a_time_out_of_datetime_range() -> None:
    """A notice ending in 9999 may already be in a log (accepted before the bound)."""
    cfg = make_cfg()
    far = datetime.fromisoformat("9999-12-31T23:59:59-14:00").timestamp()
    for t in (far, 1e30, -1e30, float("inf"), float("-inf"), float("nan")):
        assert iso(t, cfg.day)
        assert local(t, cfg.day).tzinfo is not None
        assert business_day(t, cfg.day)
    assert iso(far, cfg.day).startswith("9999-12-")  # type: ignore[union-attr]
    assert iso(MONDAY_9, cfg.day) == "2024-03-04T09:00:00+08:00"  # unchanged in range
    assert local(MONDAY_9, cfg.day) == datetime(2024, 3, 4, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


# -- over HTTP -------------------------------------------------------------------------------


async def test_call_back_reach_over_http(hall: Api) -> None:
    ticket = await hall.issue("A")
    await hall.window(1, "open")
    status, body = await hall.window(1, "call-next")
    assert (status, body["ticket"]["id"]) == (200, ticket["id"])
    await hall.window(1, "suspend")
    await hall.window(4, "open")  # serves B and C
    status, body = await hall.window(4, "call-back", {"ticket_id": ticket["id"]})
    assert (status, body["error"]) == (409, "wrong_window"), body
    status, body = await hall.window(1, "call-back", {"ticket_id": ticket["id"]})
    assert status == 200 and body["ticket"]["status"] == "called"


async def test_a_far_notice_is_refused_and_the_notices_still_read_over_http(hall: Api) -> None:
    status, body = await hall.call("POST", "/api/notices", hall.tokens.supervisor,
                                   {"text": "长期公告", "until": "9999-12-31T23:59:59-14:00"})
    assert (status, body["error"]) == (400, "notice_too_far"), body
    status, body = await hall.call("GET", "/api/notices")
    assert status == 200 and body["notices"] == []
    status, body = await hall.call("POST", "/api/notices", hall.tokens.supervisor,
                                   {"text": "元旦放假", "until": "2100-01-01T00:00:00+08:00"})
    assert (status, body["error"]) == (400, "notice_too_far")
