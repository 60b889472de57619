"""The hall's rules in `controller.core.engine`, driven through `execute` as the writer does.

Covers issuing (numbering per category and business day, quotas, per-person limits,
validation, opening hours), the window actions (call-next, recall, no-show, suspend and
call-back, automatic return, transfer to a category or a window, complete with case and
item codes), the window's own states, the day rollover, and the waiting figures in
`controller.core.views`. The small helpers here (`make_cfg`, `Hall`, `local_ts`) are
reused by test_dispatch.py and test_properties.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.config.loader import DEFAULT_CONFIG, load_config, parse_config
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.engine import Outcome, execute
from controller.core.errors import Refusal
from controller.core.events import Event
from controller.core.identity import keyed_hash
from controller.core.state import HallState, Ticket, TicketStatus, WindowStatus, apply
from controller.core.views import estimated_wait_min, ticket_view, waiting_ahead, window_view

CST = ZoneInfo("Asia/Shanghai")


def local_ts(year: int, month: int, day: int, hour: int, minute: int = 0,
             second: int = 0, tz: ZoneInfo = CST) -> float:
    """Epoch seconds of a wall-clock time in the hall's zone."""
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()


MONDAY_9 = local_ts(2024, 3, 4, 9, 0)  # a Monday morning, inside opening hours

BASE_HALL: dict[str, Any] = {
    "hall": {"id": "test-hall", "name": "测试大厅"},
    "business_day": {
        "timezone": "Asia/Shanghai",
        "opens": "08:30",
        "closes": "17:30",
        "numbering_resets": "03:00",
        "enforce_hours": False,
    },
    "queue": {
        "recall_limit": 2,
        "suspend_return_min": 15,
        "dispatch": ["priority", "directed", "overdue", "ratio"],
    },
    "priority_groups": [
        {"name": "appointment", "label": "预约"},
        {"name": "green", "label": "绿色通道"},
    ],
    "categories": [
        {"prefix": "A", "name": "不动产登记", "daily_quota": 300, "service_level_min": 30,
         "default_service_min": 12, "per_person_daily_limit": 2},
        {"prefix": "B", "name": "社保医保", "service_level_min": 20, "default_service_min": 6,
         "transfer_landing": "by_issue_time"},
        {"prefix": "C", "name": "综合咨询", "service_level_min": 15, "default_service_min": 4,
         "transfer_landing": "back"},
    ],
    "windows": [
        {"number": 1, "categories": {"A": 2, "B": 1}},
        {"number": 2, "categories": {"A": 1}},
        {"number": 3, "categories": {"B": 1, "C": 1}},
        {"number": 4, "categories": {"C": 1}},
    ],
}


def hall_dict(edit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """A deep copy of BASE_HALL, changed in place by `edit`."""
    raw = copy.deepcopy(BASE_HALL)
    if edit is not None:
        edit(raw)
    return raw


def make_cfg(edit: Callable[[dict[str, Any]], None] | None = None) -> HallConfig:
    return parse_config(hall_dict(edit), Path("test.toml"))


def category(raw: dict[str, Any], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in raw["categories"] if x["prefix"] == prefix)
    return found


class Hall:
    """A hall state driven command by command, keeping the event log as the store would."""

    def __init__(self, cfg: HallConfig, now: float = MONDAY_9) -> None:
        self.cfg = cfg
        self.state = HallState()
        self.now = now
        self.log: list[tuple[str, dict[str, Any], float]] = []
        self._ids = 0

    def run(self, cmd: c.Command, at: float | None = None) -> Outcome:
        if at is not None:
            self.now = at
        out = execute(self.state, self.cfg, cmd, self.now)
        self.log.extend((e.type, e.data, self.now) for e in out.events)
        return out

    def ok(self, cmd: c.Command, at: float | None = None) -> list[Event]:
        out = self.run(cmd, at)
        assert out.refusal is None, (out.refusal.code, out.refusal.detail)
        return out.events

    def refused(self, cmd: c.Command, at: float | None = None) -> Refusal:
        out = self.run(cmd, at)
        assert out.refusal is not None, f"{cmd} was not refused: {out.events}"
        return out.refusal

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def issue(self, cat: str = "A", priority: str | None = None,
              identity: str | None = None, channel: str = "kiosk") -> Ticket:
        self._ids += 1
        tid = f"t{self._ids}"
        self.ok(c.IssueTicket(tid, cat, channel, priority, identity))
        return self.state.tickets[tid]

    def open(self, *windows: int) -> None:
        for w in windows:
            self.ok(c.OpenWindow(w))

    def call(self, window: int) -> Ticket | None:
        """Call-next; the ticket called, or None when nobody waits for this window."""
        events = self.ok(c.CallNext(window))
        called = [e for e in events if e.type == ev.TICKET_CALLED]
        return self.state.tickets[called[0].data["ticket_id"]] if called else None

    def called_event(self, window: int) -> Event:
        events = self.ok(c.CallNext(window))
        called = [e for e in events if e.type == ev.TICKET_CALLED]
        assert len(called) == 1, events
        return called[0]

    def replay(self) -> HallState:
        """A fresh state rebuilt from the events emitted so far, as at a restart."""
        fresh = HallState()
        for seq, (kind, data, at) in enumerate(self.log, start=1):
            apply(fresh, kind, data, at, seq)
        return fresh


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


@pytest.fixture
def cfg() -> HallConfig:
    return make_cfg()


@pytest.fixture
def hall(cfg: HallConfig) -> Hall:
    return Hall(cfg)


# -- issuing -------------------------------------------------------------------------------


def test_issue_event_and_numbers_per_category(hall: Hall) -> None:
    events = hall.ok(c.IssueTicket("x1", "A", "kiosk"))
    assert events == [Event(ev.TICKET_ISSUED, {
        "ticket_id": "x1", "number": "A001", "category": "A", "channel": "kiosk",
        "business_day": "2024-03-04", "seq_in_day": 1,
    })]
    numbers = [hall.issue(cat).number for cat in ("A", "B", "A", "C", "B", "A")]
    assert numbers == ["A002", "B001", "A003", "C001", "B002", "A004"]
    t = hall.state.tickets["x1"]
    assert (t.status, t.queue_key, t.priority, t.identity_hash) == (
        TicketStatus.WAITING, (1, MONDAY_9, 0), None, None)
    assert hall.state.issued_today == {"A": 4, "B": 2, "C": 1}


def test_issue_keeps_priority_and_identity_hash_in_the_event(hall: Hall) -> None:
    h = keyed_hash(b"k", "11010519491231002X")
    events = hall.ok(c.IssueTicket("x1", "B", "idcard", "green", h))
    assert events[0].data["priority"] == "green"
    assert events[0].data["identity_hash"] == h
    assert ev.public_data(events[0].data).keys() == {
        "ticket_id", "number", "category", "channel", "business_day", "seq_in_day", "priority"}


def test_numbers_go_on_past_a_hundred_with_three_digits(cfg: HallConfig) -> None:
    hall = Hall(cfg)
    numbers = [hall.issue("C").number for _ in range(120)]
    assert numbers[8:10] == ["C009", "C010"]
    assert numbers[98:101] == ["C099", "C100", "C101"]


def test_numbers_restart_at_the_reset_time_in_the_hall_zone(hall: Hall) -> None:
    assert [hall.issue("A").number for _ in range(3)] == ["A001", "A002", "A003"]
    # 02:59:59 local next morning still belongs to Monday's business day ...
    hall.now = local_ts(2024, 3, 5, 2, 59, 59)
    late = hall.issue("A")
    assert (late.number, late.business_day) == ("A004", "2024-03-04")
    # ... and 03:00 local (19:00 UTC the day before) starts Tuesday at A001.
    hall.now = local_ts(2024, 3, 5, 3, 0)
    assert datetime.fromtimestamp(hall.now, ZoneInfo("UTC")).hour == 19
    first = hall.issue("A")
    assert (first.number, first.business_day) == ("A001", "2024-03-05")
    assert hall.issue("B").number == "B001"
    assert hall.state.issued_today == {"A": 1, "B": 1}


def test_numbers_are_never_reused_within_a_day(hall: Hall) -> None:
    hall.open(2)
    for _ in range(3):
        hall.issue("A")
    hall.call(2)
    hall.ok(c.NoShow(2))
    hall.call(2)
    hall.ok(c.Complete(2))
    # refused commands do not use up a number either
    hall.refused(c.IssueTicket("bad", "A", "fax"))
    hall.refused(c.IssueTicket("bad", "A", "kiosk", "vip"))
    assert hall.issue("A").number == "A004"
    issued = [d["number"] for kind, d, _ in hall.log if kind == ev.TICKET_ISSUED]
    assert issued == ["A001", "A002", "A003", "A004"]


def test_daily_quota(cfg: HallConfig) -> None:
    cfg = make_cfg(lambda raw: category(raw, "B").update(daily_quota=2))
    hall = Hall(cfg)
    hall.issue("B")
    hall.issue("B")
    refusal = hall.refused(c.IssueTicket("x", "B", "kiosk"))
    assert (refusal.code, refusal.status) == ("quota_reached", 409)
    assert "2" in refusal.detail and "社保医保" in refusal.detail
    assert "x" not in hall.state.tickets
    assert hall.issue("A").number == "A001"  # other categories are not affected
    hall.now = local_ts(2024, 3, 5, 9, 0)  # the next business day has a fresh quota
    assert hall.issue("B").number == "B001"


def test_per_person_daily_limit(hall: Hall) -> None:
    alice = keyed_hash(b"hall-key", "11010519491231002X")
    bob = keyed_hash(b"hall-key", "13812345678")
    assert hall.issue("A", identity=alice).number == "A001"
    assert hall.issue("A", identity=alice).number == "A002"
    refusal = hall.refused(c.IssueTicket("x", "A", "idcard", identity_hash=alice))
    assert (refusal.code, refusal.status) == ("person_limit", 409)
    assert hall.issue("A", identity=bob).number == "A003"
    assert hall.issue("A").number == "A004"  # anonymous tickets are not limited
    assert hall.state.person_today == {(alice, "A"): 2, (bob, "A"): 1}
    # B has no per-person limit configured
    for _ in range(4):
        hall.issue("B", identity=alice)
    # the next business day starts again
    hall.now = local_ts(2024, 3, 5, 8, 0)
    assert hall.issue("A", identity=alice).number == "A001"


@pytest.mark.parametrize(
    ("cmd", "code"),
    [
        (c.IssueTicket("x", "Z", "kiosk"), "unknown_category"),
        (c.IssueTicket("x", "a", "kiosk"), "unknown_category"),
        (c.IssueTicket("x", "A", "fax"), "unknown_channel"),
        (c.IssueTicket("x", "A", "kiosk", "vip"), "unknown_priority"),
    ],
)
def test_issue_bad_input_is_a_400(hall: Hall, cmd: c.IssueTicket, code: str) -> None:
    out = hall.run(cmd)
    assert out.refusal is not None
    assert (out.refusal.code, out.refusal.status, out.events) == (code, 400, [])
    assert hall.state.tickets == {}


def test_duplicate_ticket_id(hall: Hall) -> None:
    hall.ok(c.IssueTicket("same", "A", "kiosk"))
    refusal = hall.refused(c.IssueTicket("same", "B", "kiosk"))
    assert (refusal.code, refusal.status) == ("duplicate_ticket_id", 409)


def test_enforce_hours(cfg: HallConfig) -> None:
    cfg = make_cfg(lambda raw: raw["business_day"].update(enforce_hours=True))
    hall = Hall(cfg)
    refusal = hall.refused(c.IssueTicket("x", "A", "kiosk"), at=local_ts(2024, 3, 4, 8, 29, 59))
    assert (refusal.code, refusal.status) == ("hall_closed", 409)
    assert "08:30" in refusal.detail and "17:30" in refusal.detail
    hall.now = local_ts(2024, 3, 4, 8, 30)
    assert hall.issue("A").number == "A001"
    hall.now = local_ts(2024, 3, 4, 17, 29, 59)
    assert hall.issue("A").number == "A002"
    assert hall.refused(c.IssueTicket("y", "A", "kiosk"),
                        at=local_ts(2024, 3, 4, 17, 30)).code == "hall_closed"


def test_hours_not_enforced_when_configured_off(hall: Hall) -> None:
    hall.now = local_ts(2024, 3, 4, 22, 0)
    assert hall.issue("A").number == "A001"


# -- call-next -----------------------------------------------------------------------------


def test_call_next_needs_an_open_window(hall: Hall) -> None:
    hall.issue("A")
    refusal = hall.refused(c.CallNext(1))
    assert (refusal.code, refusal.status) == ("window_closed", 409)
    hall.open(1)
    hall.ok(c.PauseWindow(1, "午休"))
    refusal = hall.refused(c.CallNext(1))
    assert (refusal.code, refusal.status) == ("window_paused", 409)
    assert "午休" in refusal.detail
    refusal = hall.refused(c.CallNext(99))
    assert (refusal.code, refusal.status) == ("window_not_found", 404)
    assert hall.state.tickets["t1"].status is TicketStatus.WAITING


def test_call_next_event_and_state(hall: Hall) -> None:
    t = hall.issue("A")
    hall.open(2)
    hall.advance(60)
    events = hall.ok(c.CallNext(2))
    assert events == [Event(ev.TICKET_CALLED, {
        "ticket_id": t.id, "number": "A001", "window": 2, "rule": "ratio", "category": "A",
        "credits": {"A": 0},
    })]
    assert (t.status, t.window, t.called_at) == (TicketStatus.CALLED, 2, MONDAY_9 + 60)
    assert hall.state.window(2).current == t.id
    assert hall.state.waiting["A"] == {}
    view = ticket_view(hall.state, hall.cfg, t)
    assert (view["status"], view["window"], view["waiting_ahead"],
            view["estimated_wait_min"]) == ("called", 2, 0, 0)


def test_call_next_completes_the_current_ticket_first(hall: Hall) -> None:
    first, second = hall.issue("A"), hall.issue("A")
    hall.open(2)
    hall.call(2)
    hall.advance(300)
    events = hall.ok(c.CallNext(2))
    assert types(events) == [ev.TICKET_COMPLETED, ev.TICKET_CALLED]
    assert events[0].data == {"ticket_id": first.id, "number": "A001", "window": 2}
    assert events[1].data["ticket_id"] == second.id
    assert first.status is TicketStatus.COMPLETED
    assert first.finished_at == MONDAY_9 + 300
    assert hall.state.window(2).served == 1
    assert hall.state.window(2).current == second.id


def test_call_next_with_nobody_waiting(hall: Hall) -> None:
    hall.open(2)
    assert hall.ok(c.CallNext(2)) == []
    hall.issue("C")  # window 2 serves only A
    assert hall.ok(c.CallNext(2)) == []
    hall.issue("A")
    hall.call(2)
    events = hall.ok(c.CallNext(2))  # ends the service, calls nobody
    assert types(events) == [ev.TICKET_COMPLETED]
    assert hall.state.window(2).current is None


# -- recall, no-show -----------------------------------------------------------------------


def test_recall_up_to_the_limit(hall: Hall) -> None:
    hall.open(2)
    refusal = hall.refused(c.Recall(2))
    assert (refusal.code, refusal.status) == ("no_current_ticket", 409)
    t = hall.issue("A")
    hall.call(2)
    assert hall.ok(c.Recall(2)) == [Event(ev.TICKET_RECALLED, {
        "ticket_id": t.id, "number": "A001", "window": 2, "count": 1})]
    assert hall.ok(c.Recall(2))[0].data["count"] == 2
    refusal = hall.refused(c.Recall(2))
    assert (refusal.code, refusal.status) == ("recall_limit", 409)
    assert "A001" in refusal.detail
    assert t.recalls == 2
    assert [h["event"] for h in t.history] == ["issued", "called", "recalled", "recalled"]


def test_recall_limit_zero_allows_no_recall() -> None:
    hall = Hall(make_cfg(lambda raw: raw["queue"].update(recall_limit=0)))
    hall.issue("A")
    hall.open(2)
    hall.call(2)
    assert hall.refused(c.Recall(2)).code == "recall_limit"


def test_no_show_is_final(hall: Hall) -> None:
    t = hall.issue("A")
    later = hall.issue("A")
    hall.open(2)
    hall.call(2)
    hall.ok(c.Recall(2))
    events = hall.ok(c.NoShow(2))
    assert events == [Event(ev.TICKET_NO_SHOW, {"ticket_id": t.id, "number": "A001", "window": 2})]
    assert t.status is TicketStatus.NO_SHOW
    assert hall.state.window(2).current is None
    assert hall.state.window(2).served == 0
    assert hall.refused(c.CallBack(2, t.id)).code == "not_suspended"
    assert hall.call(2) is later
    assert hall.call(2) is None
    assert t.status is TicketStatus.NO_SHOW
    assert hall.refused(c.NoShow(2)).code == "no_current_ticket"


# -- suspend, call back, automatic return --------------------------------------------------


def test_suspend_then_call_back(hall: Hall) -> None:
    t = hall.issue("A")
    other = hall.issue("A")
    hall.open(2)
    hall.call(2)
    events = hall.ok(c.Suspend(2))
    assert events == [Event(ev.TICKET_SUSPENDED, {
        "ticket_id": t.id, "number": "A001", "window": 2, "return_at": MONDAY_9 + 15 * 60})]
    assert (t.status, t.window, t.return_at) == (TicketStatus.SUSPENDED, 2, MONDAY_9 + 900)
    assert hall.state.window(2).current is None
    assert hall.state.suspended == {t.id: t}
    assert hall.call(2) is other  # the window serves someone else meanwhile
    hall.advance(120)
    events = hall.ok(c.CallBack(2, t.id))
    assert types(events) == [ev.TICKET_COMPLETED, ev.TICKET_CALLED_BACK]
    assert events[0].data["ticket_id"] == other.id
    assert (t.status, t.window, t.return_at) == (TicketStatus.CALLED, 2, None)
    assert hall.state.suspended == {}
    assert hall.state.window(2).current == t.id
    assert [h["event"] for h in t.history] == ["issued", "called", "suspended", "called_back"]
    # nothing comes back later by itself: it is no longer suspended
    hall.advance(3600)
    assert hall.ok(c.Tick()) == []


def test_call_back_refusals(hall: Hall) -> None:
    t = hall.issue("A")
    hall.open(2)
    assert hall.refused(c.CallBack(2, "nope")).code == "ticket_not_found"
    assert hall.refused(c.CallBack(2, "nope")).status == 404
    refusal = hall.refused(c.CallBack(2, t.id))
    assert (refusal.code, refusal.status) == ("not_suspended", 409)
    hall.call(2)
    hall.ok(c.Suspend(2))
    assert hall.refused(c.CallBack(1, t.id)).code == "window_closed"


def test_suspended_ticket_returns_to_the_front_by_itself(hall: Hall) -> None:
    t = hall.issue("A")
    hall.open(2)
    hall.call(2)
    hall.ok(c.Suspend(2))
    hall.advance(60)
    a2, a3 = hall.issue("A"), hall.issue("A")
    hall.now = MONDAY_9 + 15 * 60 - 1
    assert hall.ok(c.Tick()) == []
    assert t.status is TicketStatus.SUSPENDED
    hall.now = MONDAY_9 + 15 * 60
    events = hall.ok(c.Tick())
    assert events == [Event(ev.TICKET_RETURNED, {
        "ticket_id": t.id, "number": "A001", "reason": "suspension timed out"})]
    assert (t.status, t.queue_key, t.window) == (TicketStatus.WAITING, (0, MONDAY_9 + 900, 0), None)
    assert waiting_ahead(hall.state, hall.cfg, t) == 0
    assert waiting_ahead(hall.state, hall.cfg, a2) == 1
    assert [hall.call(2), hall.call(2), hall.call(2)] == [t, a2, a3]


def test_suspended_ticket_returns_on_any_later_command(hall: Hall) -> None:
    t = hall.issue("A")
    hall.open(2)
    hall.call(2)
    hall.ok(c.Suspend(2))
    hall.advance(16 * 60)
    events = hall.ok(c.IssueTicket("late", "B", "kiosk"))
    assert types(events) == [ev.TICKET_RETURNED, ev.TICKET_ISSUED]
    assert t.status is TicketStatus.WAITING
    # time passes even when the command itself is refused
    hall.call(2)
    hall.ok(c.Suspend(2))
    hall.advance(16 * 60)
    out = hall.run(c.CallNext(4))
    assert out.refusal is not None and out.refusal.code == "window_closed"
    assert types(out.events) == [ev.TICKET_RETURNED]
    assert t.status is TicketStatus.WAITING


# -- transfer ------------------------------------------------------------------------------


def _serving(hall: Hall, cat: str = "A", window: int = 2) -> Ticket:
    t = hall.issue(cat)
    hall.open(window)
    assert hall.call(window) is t
    return t


@pytest.mark.parametrize(
    ("cmd", "code"),
    [
        (c.Transfer(2, "", to_category="B"), "reason_required"),
        (c.Transfer(2, "   ", to_category="B"), "reason_required"),
        (c.Transfer(2, "x" * 201, to_category="B"), "reason_too_long"),
        (c.Transfer(2, "材料不全"), "bad_transfer"),
        (c.Transfer(2, "材料不全", to_category="B", to_window=3), "bad_transfer"),
        (c.Transfer(2, "材料不全", to_category="A"), "bad_transfer"),
        (c.Transfer(2, "材料不全", to_category="Z"), "unknown_category"),
        (c.Transfer(2, "材料不全", to_window=77), "unknown_window"),
        (c.Transfer(2, "材料不全", to_window=2), "bad_transfer"),
    ],
)
def test_transfer_refusals(hall: Hall, cmd: c.Transfer, code: str) -> None:
    t = _serving(hall)
    out = hall.run(cmd)
    assert out.refusal is not None
    assert (out.refusal.code, out.refusal.status, out.events) == (code, 400, [])
    assert (t.status, hall.state.window(2).current) == (TicketStatus.CALLED, t.id)


def test_transfer_needs_a_current_ticket(hall: Hall) -> None:
    hall.open(2)
    assert hall.refused(c.Transfer(2, "x", to_category="B")).code == "no_current_ticket"


def test_transfer_to_category_front(hall: Hall) -> None:
    b = _serving(hall, "B", 3)
    hall.advance(60)
    a_wait = hall.issue("A")  # issued before the transfer, yet called after it
    hall.advance(60)
    events = hall.ok(c.Transfer(3, " 应办不动产 ", to_category="A"))
    assert events == [Event(ev.TICKET_TRANSFERRED, {
        "ticket_id": b.id, "number": "B001", "window": 3, "to_category": "A",
        "reason": "应办不动产", "landing": "front"})]
    assert (b.category, b.number, b.status, b.directed_window) == (
        "A", "B001", TicketStatus.WAITING, None)
    assert b.queue_key == (0, hall.now, b.order)
    assert hall.state.window(3).current is None
    assert waiting_ahead(hall.state, hall.cfg, a_wait) == 1
    hall.open(2)
    assert hall.call(2) is b
    assert hall.call(2) is a_wait
    assert [(h["event"], h.get("to_category"), h.get("reason")) for h in b.history] == [
        ("issued", None, None), ("called", None, None), ("transferred", "A", "应办不动产"),
        ("called", None, None), ("completed", None, None)]


def test_transfer_to_category_by_issue_time(hall: Hall) -> None:
    early_b = hall.issue("B")
    hall.advance(60)
    a = hall.issue("A")
    hall.advance(60)
    late_b = hall.issue("B")
    hall.open(2)
    assert hall.call(2) is a
    hall.advance(600)
    events = hall.ok(c.Transfer(2, "社保业务", to_category="B"))
    assert events[0].data["landing"] == "by_issue_time"
    assert a.queue_key == (1, MONDAY_9 + 60, a.order)
    hall.open(3)
    assert [hall.call(3), hall.call(3), hall.call(3)] == [early_b, a, late_b]
    assert a.number == "A001"


def test_transfer_to_category_back(hall: Hall) -> None:
    early_c = hall.issue("C")
    a = _serving(hall, "A", 2)
    hall.advance(60)
    late_c = hall.issue("C")
    hall.advance(60)
    events = hall.ok(c.Transfer(2, "咨询", to_category="C"))
    assert events[0].data["landing"] == "back"
    assert a.queue_key == (1, hall.now, a.order)
    hall.open(4)
    assert [hall.call(4), hall.call(4), hall.call(4)] == [early_c, late_c, a]


def test_transfer_to_a_named_window(hall: Hall) -> None:
    a = _serving(hall, "A", 2)
    other = hall.issue("A")
    hall.advance(30)
    events = hall.ok(c.Transfer(2, "请4号窗口复核", to_window=4))
    assert events == [Event(ev.TICKET_TRANSFERRED, {
        "ticket_id": a.id, "number": "A001", "window": 2, "to_window": 4,
        "reason": "请4号窗口复核", "landing": "front"})]
    assert (a.category, a.directed_window, a.status) == ("A", 4, TicketStatus.WAITING)
    # windows 1 and 2 serve A but only window 4 (which serves C only) gets it
    hall.open(1)
    assert hall.call(1) is other
    assert hall.call(2) is None
    hall.open(4)
    called = hall.called_event(4)
    assert (called.data["ticket_id"], called.data["rule"]) == (a.id, "directed")
    assert (a.number, a.window, a.directed_window) == ("A001", 4, None)
    assert [h["event"] for h in a.history] == ["issued", "called", "transferred", "called"]
    assert a.history[2]["to_window"] == 4


def test_transferred_ticket_can_be_recalled_again(hall: Hall) -> None:
    a = _serving(hall, "A", 2)
    hall.ok(c.Recall(2))
    hall.ok(c.Recall(2))
    hall.ok(c.Transfer(2, "转综合", to_category="C"))
    assert a.recalls == 0
    hall.open(4)
    assert hall.call(4) is a
    assert hall.ok(c.Recall(4))[0].data["count"] == 1


# -- complete ------------------------------------------------------------------------------


def test_complete_with_case_and_item(hall: Hall) -> None:
    t = _serving(hall, "A", 2)
    hall.advance(600)
    events = hall.ok(c.Complete(2, case_no="330100202611270001", item_code="11330100MB0001-01"))
    assert events == [Event(ev.TICKET_COMPLETED, {
        "ticket_id": t.id, "number": "A001", "window": 2,
        "case_no": "330100202611270001", "item_code": "11330100MB0001-01"})]
    assert (t.status, t.case_no, t.item_code, t.finished_at) == (
        TicketStatus.COMPLETED, "330100202611270001", "11330100MB0001-01", MONDAY_9 + 600)
    assert t.history[-1] == {"at": MONDAY_9 + 600, "event": "completed", "window": 2,
                             "case_no": "330100202611270001", "item_code": "11330100MB0001-01"}
    assert hall.state.window(2).current is None
    assert hall.state.service_min == {"A": 10.0}
    assert hall.refused(c.Complete(2)).code == "no_current_ticket"


def test_complete_for_a_company_keeps_its_credit_code_for_the_evaluation(hall: Hall) -> None:
    t = _serving(hall, "A", 2)
    events = hall.ok(c.Complete(2, credit_code="9144 0300 7152 6726xg"))
    assert events[0].data["credit_code"] == "9144030071526726XG"
    assert t.credit_code == "9144030071526726XG"
    rated = hall.ok(c.Evaluate("e1", 4, "pad", ticket_id=t.id))
    assert rated[0].data["credit_code"] == "9144030071526726XG"


def test_complete_refuses_a_wrong_credit_code(hall: Hall) -> None:
    t = _serving(hall, "A", 2)
    out = hall.run(c.Complete(2, credit_code="9144030071526726XH"))
    assert out.refusal is not None
    assert (out.refusal.code, out.refusal.status, out.events) == ("bad_credit_code", 400, [])
    assert "check character" in out.refusal.detail
    assert t.status is TicketStatus.CALLED


def test_complete_without_codes(hall: Hall) -> None:
    _serving(hall, "A", 2)
    assert hall.ok(c.Complete(2))[0].data.keys() == {"ticket_id", "number", "window"}


@pytest.mark.parametrize(
    ("case_no", "item_code", "code"),
    [
        ("", None, "bad_case_no"),
        ("x" * 51, None, "bad_case_no"),
        ("办件123", None, "bad_case_no"),
        ("33 01", None, "bad_case_no"),
        ("ok-1", "", "bad_item_code"),
        ("ok-1", "A;DROP", "bad_item_code"),
        (None, "y" * 51, "bad_item_code"),
    ],
)
def test_complete_rejects_bad_codes(hall: Hall, case_no: str | None, item_code: str | None,
                                    code: str) -> None:
    t = _serving(hall, "A", 2)
    out = hall.run(c.Complete(2, case_no, item_code))
    assert out.refusal is not None
    assert (out.refusal.code, out.refusal.status, out.events) == (code, 400, [])
    assert t.status is TicketStatus.CALLED


def test_complete_accepts_fifty_characters(hall: Hall) -> None:
    _serving(hall, "A", 2)
    code = "A1_.:/-" + "9" * 43
    assert len(code) == 50
    assert hall.ok(c.Complete(2, code, code))[0].data["case_no"] == code


def test_service_time_is_an_ewma(hall: Hall) -> None:
    hall.open(2)
    hall.issue("A")
    hall.issue("A")
    hall.call(2)
    hall.advance(600)
    hall.call(2)  # completes the first after 10 minutes
    assert hall.state.service_min == {"A": 10.0}
    hall.advance(1200)
    hall.ok(c.Complete(2))  # 20 minutes: 10 + 0.2 * (20 - 10)
    assert hall.state.service_min == {"A": pytest.approx(12.0)}


# -- window states -------------------------------------------------------------------------


def test_window_open_pause_resume_close(hall: Hall) -> None:
    assert hall.ok(c.OpenWindow(1)) == [Event(ev.WINDOW_OPENED, {"window": 1})]
    assert hall.ok(c.OpenWindow(1)) == []
    assert hall.refused(c.PauseWindow(1, " ")).code == "reason_required"
    assert hall.ok(c.PauseWindow(1, " 系统维护 ")) == [
        Event(ev.WINDOW_PAUSED, {"window": 1, "reason": "系统维护"})]
    win = hall.state.window(1)
    assert (win.status, win.pause_reason) == (WindowStatus.PAUSED, "系统维护")
    assert window_view(hall.state, hall.cfg, 1)["state"] == "paused"
    assert hall.ok(c.ResumeWindow(1)) == [Event(ev.WINDOW_RESUMED, {"window": 1})]
    assert (win.status, win.pause_reason) == (WindowStatus.OPEN, None)
    refusal = hall.refused(c.ResumeWindow(1))
    assert (refusal.code, refusal.status) == ("not_paused", 409)
    assert hall.ok(c.CloseWindow(1)) == [Event(ev.WINDOW_CLOSED, {"window": 1})]
    assert hall.ok(c.CloseWindow(1)) == []
    assert hall.refused(c.PauseWindow(1, "午休")).code == "window_closed"
    assert hall.refused(c.OpenWindow(42)).code == "window_not_found"


def test_close_is_refused_while_serving(hall: Hall) -> None:
    t = _serving(hall, "A", 2)
    refusal = hall.refused(c.CloseWindow(2))
    assert (refusal.code, refusal.status) == ("window_busy", 409)
    assert "A001" in refusal.detail
    # a paused window still finishes its current citizen, then may close
    hall.ok(c.PauseWindow(2, "午休"))
    assert hall.refused(c.CloseWindow(2)).code == "window_busy"
    hall.ok(c.Complete(2))
    assert t.status is TicketStatus.COMPLETED
    assert types(hall.ok(c.CloseWindow(2))) == [ev.WINDOW_CLOSED]


def test_open_a_paused_window_opens_it(hall: Hall) -> None:
    hall.open(1)
    hall.ok(c.PauseWindow(1, "午休"))
    assert types(hall.ok(c.OpenWindow(1))) == [ev.WINDOW_OPENED]
    assert hall.state.window(1).status is WindowStatus.OPEN


# -- day rollover --------------------------------------------------------------------------


def test_day_rollover_expires_yesterdays_queue(hall: Hall) -> None:
    hall.open(2, 4)
    served = hall.issue("A")  # A001, at window 2 when the day ends
    waiting_a = hall.issue("A")  # A002
    c1, returned = hall.issue("C"), hall.issue("C")  # C001 is completed, C002 suspended
    assert hall.call(2) is served
    assert hall.call(4) is c1
    assert hall.call(4) is returned
    assert c1.status is TicketStatus.COMPLETED
    hall.ok(c.Suspend(4))
    waiting_c = hall.issue("C")  # C003
    hall.now = local_ts(2024, 3, 5, 2, 59)  # still Monday's business day
    assert hall.ok(c.Tick()) == [Event(ev.TICKET_RETURNED, {
        "ticket_id": returned.id, "number": "C002", "reason": "suspension timed out"})]
    hall.now = local_ts(2024, 3, 5, 3, 0)
    events = hall.ok(c.Tick())
    assert sorted((e.type, e.data["number"]) for e in events) == [
        (ev.TICKET_EXPIRED, "A001"), (ev.TICKET_EXPIRED, "A002"), (ev.TICKET_EXPIRED, "C002"),
        (ev.TICKET_EXPIRED, "C003")]
    assert all(t.status is TicketStatus.EXPIRED for t in (waiting_a, returned, waiting_c))
    # a service left open at a window over the day's end is closed as expired too
    assert served.status is TicketStatus.EXPIRED
    assert hall.state.window(2).current is None
    assert hall.state.waiting == {"A": {}, "C": {}}
    assert hall.ok(c.Tick()) == []
    assert types(hall.ok(c.CallNext(2))) == []  # nothing to complete, nobody waits
    assert hall.state.tickets[served.id].status is TicketStatus.EXPIRED


def test_day_rollover_expires_suspended_tickets(hall: Hall) -> None:
    t = _serving(hall, "A", 2)
    hall.now = local_ts(2024, 3, 4, 17, 20)
    hall.ok(c.Suspend(2))
    hall.now = local_ts(2024, 3, 5, 8, 30)
    events = hall.ok(c.IssueTicket("tue", "A", "kiosk"))
    assert events == [
        Event(ev.TICKET_EXPIRED, {"ticket_id": t.id, "number": "A001"}),
        Event(ev.TICKET_ISSUED, {"ticket_id": "tue", "number": "A001", "category": "A",
                                 "channel": "kiosk", "business_day": "2024-03-05",
                                 "seq_in_day": 1}),
    ]
    assert t.status is TicketStatus.EXPIRED
    assert hall.state.suspended == {}
    assert hall.refused(c.CallBack(2, t.id)).code == "not_suspended"


# -- views ---------------------------------------------------------------------------------


def test_waiting_ahead_counts_priority_first(hall: Hall) -> None:
    a1, a2, a3 = hall.issue("A"), hall.issue("A"), hall.issue("A")
    hall.issue("B")  # other categories do not count
    assert [waiting_ahead(hall.state, hall.cfg, t) for t in (a1, a2, a3)] == [0, 1, 2]
    green = hall.issue("A", priority="green")
    assert [waiting_ahead(hall.state, hall.cfg, t) for t in (a1, a2, a3, green)] == [1, 2, 3, 0]
    appt = hall.issue("A", priority="appointment")
    assert waiting_ahead(hall.state, hall.cfg, green) == 1
    assert waiting_ahead(hall.state, hall.cfg, appt) == 0
    assert waiting_ahead(hall.state, hall.cfg, a3) == 4
    view = ticket_view(hall.state, hall.cfg, a3)
    assert (view["waiting_ahead"], view["status"], view["window"]) == (4, "waiting", None)


def test_estimated_wait(hall: Hall) -> None:
    # A: default 12 min, served by windows 1 and 2; none open: both count as lanes
    for _ in range(3):
        hall.issue("A")
    a4 = hall.issue("A")
    assert waiting_ahead(hall.state, hall.cfg, a4) == 3
    assert ticket_view(hall.state, hall.cfg, a4)["estimated_wait_min"] == 18  # ceil(3/2*12)
    hall.open(2)  # now only the open window counts
    assert ticket_view(hall.state, hall.cfg, a4)["estimated_wait_min"] == 36
    assert hall.call(2) is not None
    hall.advance(300)
    hall.ok(c.Complete(2))  # measured: 5 minutes a ticket
    assert waiting_ahead(hall.state, hall.cfg, a4) == 2
    assert ticket_view(hall.state, hall.cfg, a4)["estimated_wait_min"] == 10
    assert estimated_wait_min(hall.state, hall.cfg, "A", 0) == 0
    assert estimated_wait_min(hall.state, hall.cfg, "C", 3) == 6  # ceil(3/2*4), windows 3, 4


def test_views_with_the_demo_config() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    hall = Hall(cfg)
    for _ in range(5):
        hall.issue("A")
    a6 = hall.issue("A")
    # A is served by windows 1, 2, 3 and 8 (demo), 12 minutes each by default
    assert ticket_view(hall.state, cfg, a6)["estimated_wait_min"] == 15
    assert ticket_view(hall.state, cfg, a6)["category_name"] == "不动产登记"
    view = window_view(hall.state, cfg, 1)
    assert (view["name"], view["categories"], view["state"], view["current"]) == (
        "1号窗口 综合受理", ["A", "D"], "closed", None)


def test_a_service_left_open_overnight_does_not_inflate_waiting_estimates(hall: Hall) -> None:
    hall.issue("A")
    hall.open(2)
    hall.call(2)  # Monday 09:00; the clerk never completes it
    hall.now = local_ts(2024, 3, 5, 9, 0)  # Tuesday 09:00
    hall.issue("A")
    hall.issue("A")
    t = hall.issue("A")
    hall.call(2)  # completes Monday's ticket, calls Tuesday's A001
    assert waiting_ahead(hall.state, hall.cfg, t) == 1
    # one ahead, one open window, A's configured 12 minutes a service (today: 1440)
    assert ticket_view(hall.state, hall.cfg, t)["estimated_wait_min"] == 12


def test_a_clock_stepped_back_across_the_reset_never_reuses_a_number(
        hall: Hall, cfg: HallConfig) -> None:
    """A box that booted a day fast, issued tickets, and was then set right by NTP: the
    real day's numbering goes on where it stopped (no second A001 in the hall), the
    wrong day's too if the clock jumps there again, and a replay of the log agrees."""
    assert [hall.issue("A").number for _ in range(2)] == ["A001", "A002"]  # Monday
    monday = hall.state.day
    hall.now += 24 * 3600  # the clock jumps a day ahead
    assert hall.issue("A").number == "A001" and hall.state.day > monday
    hall.now -= 24 * 3600 - 60  # ...and is set right: Monday again
    back = hall.issue("A")
    assert (back.number, back.business_day) == ("A003", monday)
    hall.now += 24 * 3600  # Tuesday for real: its numbering resumes too
    assert hall.issue("A").number == "A002"
    replayed = HallState()
    for seq, (kind, data, at) in enumerate(hall.log, start=1):
        apply(replayed, kind, copy.deepcopy(data), at, seq)
    assert replayed.issued_by_day == hall.state.issued_by_day
    assert replayed.issued_today == hall.state.issued_today == {"A": 2}


def test_the_per_person_limit_holds_across_a_clock_step_back(cfg: HallConfig) -> None:
    h = Hall(make_cfg(lambda d: category(d, "A").update(per_person_daily_limit=2)))
    person = keyed_hash(b"k" * 32, "13800138000")
    for i in range(2):
        h.ok(c.IssueTicket(f"p{i}", "A", "kiosk", None, person))
    h.now += 24 * 3600
    h.ok(c.IssueTicket("next-day", "A", "kiosk", None, person))
    h.now -= 24 * 3600 - 60
    assert h.refused(c.IssueTicket("again", "A", "kiosk", None, person)).code == "person_limit"


def test_only_the_last_days_counters_are_kept(hall: Hall) -> None:
    from controller.core.state import KEPT_DAYS
    for _ in range(KEPT_DAYS + 3):
        hall.issue("A")
        hall.now += 24 * 3600
    assert len(hall.state.issued_by_day) == KEPT_DAYS
    assert hall.state.issued_by_day[hall.state.day] is hall.state.issued_today
