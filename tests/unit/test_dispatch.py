"""Dispatch (派号) in `controller.core.dispatch`: which waiting ticket a window gets.

Covers the candidates of a window, each rule of the pipeline (priority in rank order,
directed, overdue with the longest-over first, ratio as smooth weighted round robin with
FIFO inside a category), the FIFO fallback, a configured pipeline order, determinism,
and that the ratio credits survive a rebuild of the state from the committed events.
The worked examples of docs/dispatch.md are the `test_doc_example_*` tests at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.config.loader import DEFAULT_CONFIG, load_config
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.dispatch import Choice, candidates, choose
from controller.core.state import HallState, Ticket, TicketStatus
from tests.unit.test_engine import MONDAY_9, Hall, category, local_ts, make_cfg

MIN = 60.0


def called(hall: Hall, window: int) -> tuple[str, str, dict[str, int] | None]:
    """Call-next at `window`: (number, rule, credits) of the ticket called."""
    event = hall.called_event(window)
    return event.data["number"], event.data["rule"], event.data.get("credits")


def numbers_called(hall: Hall, window: int, times: int) -> list[str]:
    return [called(hall, window)[0] for _ in range(times)]


def direct(hall: Hall, cat: str, via: int, to: int) -> Ticket:
    """A fresh ticket of `cat` called at window `via` (nobody else may wait there) and
    transferred by name to window `to`."""
    t = hall.issue(cat)
    hall.open(via)
    assert hall.call(via) is t
    hall.ok(c.Transfer(via, "转指定窗口", to_window=to))
    return t


def snapshot(choice: Choice | None) -> tuple[str, str, dict[str, int] | None] | None:
    return None if choice is None else (choice.ticket.id, choice.rule, choice.credits)


# -- candidates ----------------------------------------------------------------------------


def test_candidates_are_served_categories_and_tickets_directed_here() -> None:
    hall = Hall(make_cfg())
    to_1 = direct(hall, "A", via=2, to=1)  # A ticket sent to window 1 only
    to_2 = direct(hall, "C", via=4, to=2)  # C is not served by window 2, but sent to it
    a, b, cc = hall.issue("A"), hall.issue("B"), hall.issue("C")
    ids = {t.id for t in candidates(hall.state, hall.cfg, 2)}
    assert ids == {to_2.id, a.id}
    assert {t.id for t in candidates(hall.state, hall.cfg, 1)} == {to_1.id, a.id, b.id}
    assert {t.id for t in candidates(hall.state, hall.cfg, 4)} == {cc.id}
    assert snapshot(choose(hall.state, hall.cfg, 2, hall.now)) == (to_2.id, "directed", None)
    assert snapshot(choose(hall.state, hall.cfg, 4, hall.now)) == (cc.id, "ratio", {"C": 0})
    assert choose(HallState(), hall.cfg, 2, hall.now) is None


def test_suspended_and_called_tickets_are_no_candidates() -> None:
    hall = Hall(make_cfg())
    t = hall.issue("A")
    hall.open(2)
    hall.call(2)
    assert candidates(hall.state, hall.cfg, 1) == []
    hall.ok(c.Suspend(2))
    assert candidates(hall.state, hall.cfg, 1) == []
    assert t.status is TicketStatus.SUSPENDED


# -- priority ------------------------------------------------------------------------------


def test_priority_in_rank_order_then_queue_position() -> None:
    hall = Hall(make_cfg())
    hall.open(1)
    hall.issue("A")
    hall.issue("B", priority="green")
    hall.issue("A", priority="green")
    hall.issue("C", priority="appointment")  # window 1 does not serve C
    hall.issue("A", priority="appointment")
    hall.issue("B", priority="appointment")
    got = [called(hall, 1)[:2] for _ in range(5)]
    #: appointment A (issued before appointment B), appointment B, green B, green A
    assert got == [("A003", "priority"), ("B002", "priority"), ("B001", "priority"),
                   ("A002", "priority"), ("A001", "ratio")]
    assert hall.call(1) is None
    assert [t.number for t in hall.state.waiting["C"].values()] == ["C001"]


def test_priority_events_carry_no_credits_and_leave_them_alone() -> None:
    hall = Hall(make_cfg())
    hall.open(1)
    hall.issue("A")
    hall.issue("B")
    assert called(hall, 1) == ("A001", "ratio", {"A": -1, "B": 1})
    hall.issue("B", priority="green")
    event = hall.called_event(1)
    assert event.data == {"ticket_id": "t3", "number": "B002", "window": 1,
                          "rule": "priority", "category": "B"}
    assert hall.state.window(1).credits == {"A": -1, "B": 1}


# -- directed ------------------------------------------------------------------------------


def test_directed_before_ratio_and_after_priority() -> None:
    hall = Hall(make_cfg())
    c_early = hall.issue("C")
    hall.advance(MIN)
    a1 = direct(hall, "A", via=2, to=4)
    hall.advance(MIN)
    a2 = direct(hall, "A", via=2, to=4)
    green = hall.issue("C", priority="green")
    hall.open(4)
    assert called(hall, 4)[:2] == (green.number, "priority")
    # two tickets sent here: in queue order (both "front": by transfer time)
    assert called(hall, 4)[:2] == (a1.number, "directed")
    assert called(hall, 4)[:2] == (a2.number, "directed")
    assert called(hall, 4)[:2] == (c_early.number, "ratio")


def test_directed_ticket_waits_only_for_its_window() -> None:
    hall = Hall(make_cfg())
    t = direct(hall, "A", via=2, to=4)
    hall.open(1, 2)
    assert hall.call(1) is None and hall.call(2) is None
    assert t.status is TicketStatus.WAITING
    hall.open(4)
    assert hall.call(4) is t


# -- overdue -------------------------------------------------------------------------------


def _overdue_cfg() -> HallConfig:
    def edit(raw: dict[str, Any]) -> None:
        category(raw, "A")["service_level_min"] = 10
        category(raw, "B")["service_level_min"] = 5
    return make_cfg(edit)


def test_overdue_longest_over_first() -> None:
    hall = Hall(_overdue_cfg())
    hall.open(1)
    a = hall.issue("A")  # 09:00, level 10 min
    hall.advance(3 * MIN)
    b = hall.issue("B")  # 09:03, level 5 min
    hall.advance(9 * MIN)  # 09:12: A is 2 min over, B 4 min over
    assert called(hall, 1)[:2] == (b.number, "overdue")
    assert called(hall, 1)[:2] == (a.number, "overdue")


def test_overdue_starts_after_the_service_level_not_at_it() -> None:
    hall = Hall(_overdue_cfg())
    hall.open(1)
    hall.issue("B")
    hall.advance(MIN)
    hall.issue("A")
    hall.advance(4 * MIN)  # B waited exactly 5 min: not yet over
    # ratio A=2, B=1 would give A first; overdue would give B
    assert called(hall, 1)[:2] == ("A001", "ratio")
    hall2 = Hall(_overdue_cfg())
    hall2.open(1)
    hall2.issue("B")
    hall2.advance(MIN)
    hall2.issue("A")
    hall2.advance(4 * MIN + 1)
    assert called(hall2, 1)[:2] == ("B001", "overdue")


def test_overdue_ties_go_by_queue_position() -> None:
    hall = Hall(_overdue_cfg())
    hall.open(1)
    hall.issue("B")
    hall.issue("B")
    hall.advance(20 * MIN)
    assert [called(hall, 1)[:2] for _ in range(2)] == [("B001", "overdue"), ("B002", "overdue")]


def test_overdue_counts_from_the_time_a_ticket_joined_its_queue() -> None:
    # a transfer (or a suspension's return) restarts the service-level clock
    hall = Hall(_overdue_cfg())  # C: level 15 min, lands "back"
    a = hall.issue("A")  # 09:00
    hall.open(2)
    hall.advance(15 * MIN)
    c0 = hall.issue("C")  # 09:15
    hall.advance(5 * MIN)
    assert hall.call(2) is a  # 09:20
    hall.ok(c.Transfer(2, "咨询", to_category="C"))  # joins C at 09:20, at the back
    hall.advance(5 * MIN)  # 09:25: a has been in the hall 25 min, but in C only 5
    hall.open(4)
    assert a.queued_at == MONDAY_9 + 20 * MIN
    assert called(hall, 4)[:2] == (c0.number, "ratio")
    assert called(hall, 4)[:2] == (a.number, "ratio")


# -- ratio ---------------------------------------------------------------------------------


def test_ratio_two_to_one_with_fifo_inside_categories() -> None:
    hall = Hall(make_cfg())
    hall.open(1)
    for _ in range(4):
        hall.issue("B")  # B first: the ratio, not issue time, decides between categories
    for _ in range(6):
        hall.issue("A")
    got = [called(hall, 1) for _ in range(9)]
    assert got == [
        ("A001", "ratio", {"A": -1, "B": 1}),
        ("B001", "ratio", {"A": 1, "B": -1}),
        ("A002", "ratio", {"A": 0, "B": 0}),
        ("A003", "ratio", {"A": -1, "B": 1}),
        ("B002", "ratio", {"A": 1, "B": -1}),
        ("A004", "ratio", {"A": 0, "B": 0}),
        ("A005", "ratio", {"A": -1, "B": 1}),
        ("B003", "ratio", {"A": 1, "B": -1}),
        ("A006", "ratio", {"A": 0, "B": 0}),
    ]
    # A is empty now: B alone, its credit staying put, A's untouched
    assert called(hall, 1) == ("B004", "ratio", {"A": 0, "B": 0})
    assert hall.call(1) is None


def test_ratio_three_categories_keeps_the_weights_over_any_full_cycle() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["windows"][0]["categories"] = {"A": 3, "B": 2, "C": 1}
    hall = Hall(make_cfg(edit))
    hall.open(1)
    for cat in "ABC":
        for _ in range(40):
            hall.issue(cat)
    seq = [called(hall, 1)[0][0] for _ in range(60)]
    for start in range(0, 60, 6):
        cycle = seq[start:start + 6]
        assert (cycle.count("A"), cycle.count("B"), cycle.count("C")) == (3, 2, 1), cycle
    assert seq[:6] == ["A", "B", "A", "C", "B", "A"]  # smooth: never three A in a row
    assert "AAA" not in "".join(seq)


def test_ratio_ties_go_to_the_category_configured_first() -> None:
    hall = Hall(make_cfg())
    hall.open(3)  # B = 1, C = 1
    hall.issue("C")
    hall.issue("B")
    assert called(hall, 3) == ("B001", "ratio", {"B": -1, "C": 1})
    assert called(hall, 3) == ("C001", "ratio", {"B": -1, "C": 1})


def test_credits_are_per_window() -> None:
    hall = Hall(make_cfg())
    hall.open(1, 2)
    for _ in range(3):
        hall.issue("A")
        hall.issue("B")
    assert called(hall, 1) == ("A001", "ratio", {"A": -1, "B": 1})
    assert called(hall, 2) == ("A002", "ratio", {"A": 0})
    assert called(hall, 1) == ("B001", "ratio", {"A": 1, "B": -1})
    assert hall.state.window(1).credits == {"A": 1, "B": -1}
    assert hall.state.window(2).credits == {"A": 0}


# -- the pipeline --------------------------------------------------------------------------


def _with_pipeline(rules: list[str], edit_more: Any = None) -> HallConfig:
    def edit(raw: dict[str, Any]) -> None:
        raw["queue"]["dispatch"] = rules
        category(raw, "A")["service_level_min"] = 10
        if edit_more is not None:
            edit_more(raw)
    return make_cfg(edit)


def test_pipeline_order_overdue_before_priority() -> None:
    for rules, expected in ((["priority", "directed", "overdue", "ratio"], ("A002", "priority")),
                            (["overdue", "priority", "directed", "ratio"], ("A001", "overdue"))):
        hall = Hall(_with_pipeline(rules))
        hall.open(2)
        hall.issue("A")
        hall.advance(11 * MIN)
        hall.issue("A", priority="green")
        assert called(hall, 2)[:2] == expected, rules


def test_empty_pipeline_is_fifo_across_categories() -> None:
    hall = Hall(_with_pipeline([]))
    hall.open(1)
    for cat in "BBAAB":
        hall.issue(cat)
        hall.advance(1)
    hall.issue("A", priority="green")  # no priority rule: just its place in the queue
    got = [called(hall, 1) for _ in range(6)]
    assert got == [("B001", "fifo", None), ("B002", "fifo", None), ("A001", "fifo", None),
                   ("A002", "fifo", None), ("B003", "fifo", None), ("A003", "fifo", None)]


def test_fifo_fallback_when_no_rule_picks() -> None:
    hall = Hall(_with_pipeline(["priority"]))
    hall.open(1)
    hall.issue("B")
    hall.issue("A")
    assert called(hall, 1) == ("B001", "fifo", None)
    assert hall.state.window(1).credits == {}


def test_fifo_fallback_puts_front_bands_first() -> None:
    # with no "directed" rule, a ticket sent here is reached by FIFO; A lands "front"
    hall = Hall(_with_pipeline(["priority"]))
    hall.issue("C")
    hall.advance(MIN)
    t = direct(hall, "A", via=2, to=4)
    assert t.queue_key == (0, hall.now, t.order)
    hall.open(4)
    assert called(hall, 4) == (t.number, "fifo", None)
    assert called(hall, 4) == ("C001", "fifo", None)


def test_ratio_before_directed_keeps_directed_waiting() -> None:
    hall = Hall(_with_pipeline(["ratio", "directed"]))
    t = direct(hall, "C", via=4, to=1)
    hall.issue("A")
    hall.open(1)
    assert called(hall, 1)[:2] == ("A001", "ratio")
    assert called(hall, 1)[:2] == (t.number, "directed")


# -- determinism and replay ----------------------------------------------------------------


def _busy_hall() -> Hall:
    hall = Hall(make_cfg())
    hall.open(1, 2, 3, 4)
    for i, cat in enumerate("ABACBBACCA"):
        hall.issue(cat, priority="green" if i == 6 else None)
        hall.advance(37)
    for w in (1, 3, 1, 2, 4, 1):
        hall.ok(c.CallNext(w))
        hall.advance(53)
    return hall


def test_choose_is_deterministic_and_pure() -> None:
    hall = _busy_hall()
    before = {w: dict(hall.state.window(w).credits) for w in (1, 2, 3, 4)}
    for w in (1, 2, 3, 4):
        first = snapshot(choose(hall.state, hall.cfg, w, hall.now))
        assert snapshot(choose(hall.state, hall.cfg, w, hall.now)) == first
    assert {w: hall.state.window(w).credits for w in (1, 2, 3, 4)} == before
    other = _busy_hall()
    assert other.log == hall.log


def test_ratio_credits_survive_a_replay() -> None:
    hall = Hall(make_cfg())
    hall.open(1)
    for _ in range(6):
        hall.issue("A")
    for _ in range(3):
        hall.issue("B")
    assert numbers_called(hall, 1, 2) == ["A001", "B001"]
    assert hall.state.window(1).credits == {"A": 1, "B": -1}

    rebuilt = hall.replay()
    assert rebuilt.window(1).credits == {"A": 1, "B": -1}
    live = snapshot(choose(hall.state, hall.cfg, 1, hall.now))
    assert snapshot(choose(rebuilt, hall.cfg, 1, hall.now)) == live == (
        "t2", "ratio", {"A": 0, "B": 0})

    # a restart in the middle of the cycle continues A, B, A, A, B, A
    restarted = Hall(hall.cfg, hall.now)
    restarted.state = rebuilt
    restarted.log = list(hall.log)
    assert numbers_called(restarted, 1, 4) == ["A002", "A003", "B002", "A004"]

    # the credits matter: without them the next call would be A, not B, after A001
    forgetful = Hall(make_cfg())
    forgetful.open(1)
    for _ in range(6):
        forgetful.issue("A")
    for _ in range(3):
        forgetful.issue("B")
    assert called(forgetful, 1)[0] == "A001"
    forgetful.state.window(1).credits = {}
    assert called(forgetful, 1)[0] == "A002"


def test_every_decision_is_the_same_after_replay() -> None:
    hall = _busy_hall()
    rebuilt = hall.replay()
    for w in (1, 2, 3, 4):
        assert snapshot(choose(rebuilt, hall.cfg, w, hall.now)) == snapshot(
            choose(hall.state, hall.cfg, w, hall.now))
        assert rebuilt.window(w).credits == hall.state.window(w).credits


def test_called_event_payload_types_survive_json() -> None:
    import json

    hall = Hall(make_cfg())
    hall.open(1)
    hall.issue("A")
    hall.issue("B")
    hall.call(1)
    # the store writes payloads as JSON: credits must come back identical
    kind, data, at = hall.log[-1]
    assert kind == ev.TICKET_CALLED
    assert json.loads(json.dumps(data)) == data


# -- the worked examples of docs/dispatch.md -------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> HallConfig:
    return load_config(DEFAULT_CONFIG)


def _t(hour: int, minute: int) -> float:
    return local_ts(2024, 3, 4, hour, minute)


def test_doc_example_1_priority_then_ratio(demo: HallConfig) -> None:
    hall = Hall(demo, _t(9, 0))
    for cat in "AAADD":
        hall.issue(cat)
    hall.now = _t(9, 5)
    hall.issue("A", priority="green")
    hall.open(1)
    got = []
    for minute in range(6, 12):
        hall.now = _t(9, minute)
        got.append(called(hall, 1))
    assert got == [
        ("A004", "priority", None),
        ("A001", "ratio", {"A": -1, "D": 1}),
        ("D001", "ratio", {"A": 1, "D": -1}),
        ("A002", "ratio", {"A": 0, "D": 0}),
        ("A003", "ratio", {"A": -1, "D": 1}),
        ("D002", "ratio", {"A": -1, "D": 1}),
    ]


def test_doc_example_2_overdue(demo: HallConfig) -> None:
    hall = Hall(demo, _t(9, 0))
    hall.issue("C")
    hall.now = _t(9, 20)
    for _ in range(5):
        hall.issue("B")
    hall.open(4)
    got = []
    for minute in (24, 26, 27):
        hall.now = _t(9, minute)
        got.append(called(hall, 4))
    assert got == [("B001", "ratio", {"B": -1, "C": 1}),
                   ("C001", "overdue", None),
                   ("B002", "ratio", {"B": -1, "C": 1})]


@pytest.mark.parametrize(
    ("target", "window", "landing", "order"),
    [  # X stands for the target category's prefix
        ("H", 15, "front", ["A001", "X001", "X002", "X003"]),
        ("F", 11, "by_issue_time", ["X001", "A001", "X002", "X003"]),
        ("G", 13, "back", ["X001", "X002", "A001", "X003"]),
    ],
)
def test_doc_example_3_transfer_landing(demo: HallConfig, target: str, window: int,
                                        landing: str, order: list[str]) -> None:
    hall = Hall(demo, _t(9, 0))
    hall.issue(target)  # X001 09:00
    hall.now = _t(9, 2)
    hall.issue("A")  # A001 09:02
    hall.now = _t(9, 4)
    hall.issue(target)  # X002 09:04
    hall.open(1)
    hall.now = _t(9, 5)
    assert called(hall, 1)[0] == "A001"
    hall.now = _t(9, 6)
    events = hall.ok(c.Transfer(1, "需办理其他业务", to_category=target))
    assert events[0].data["landing"] == landing
    hall.now = _t(9, 8)
    hall.issue(target)  # X003 09:08
    hall.open(window)
    got = []
    for minute in range(10, 14):
        hall.now = _t(9, minute)
        got.append(called(hall, window)[0])
    assert got == [n.replace("X", target) for n in order]


def test_doc_example_4_suspension_return_and_named_window(demo: HallConfig) -> None:
    hall = Hall(demo, _t(10, 0))
    for _ in range(3):
        hall.issue("A")
    hall.open(2, 3)
    assert called(hall, 2)[0] == "A001"
    hall.now = _t(10, 2)
    assert hall.ok(c.Suspend(2))[0].data["return_at"] == _t(10, 17)
    hall.now = _t(10, 3)
    assert called(hall, 2)[0] == "A002"
    hall.now = _t(10, 17)
    events = hall.ok(c.IssueTicket("late", "A", "kiosk"))
    assert [(e.type, e.data["number"]) for e in events] == [
        (ev.TICKET_RETURNED, "A001"), (ev.TICKET_ISSUED, "A004")]
    hall.now = _t(10, 18)
    assert called(hall, 3)[:2] == ("A001", "ratio")
    hall.now = _t(10, 20)
    hall.ok(c.Transfer(2, "需税务窗口复核", to_window=9))
    hall.now = _t(10, 21)
    assert called(hall, 3)[:2] == ("A003", "ratio")
    hall.open(9)
    hall.now = _t(10, 22)
    assert called(hall, 9)[:2] == ("A002", "directed")


def test_doc_example_5_restart_keeps_the_ratio(demo: HallConfig) -> None:
    hall = Hall(demo, _t(9, 0))
    for cat in "AAAADD":
        hall.issue(cat)
    hall.open(1)
    assert [called(hall, 1) for _ in range(2)] == [("A001", "ratio", {"A": -1, "D": 1}),
                                                   ("D001", "ratio", {"A": 1, "D": -1})]
    restarted = Hall(demo, hall.now)
    restarted.state = hall.replay()  # the daemon restarts: state rebuilt from the log
    assert restarted.state.window(1).credits == {"A": 1, "D": -1}
    assert [called(restarted, 1) for _ in range(3)] == [("A002", "ratio", {"A": 0, "D": 0}),
                                                        ("A003", "ratio", {"A": -1, "D": 1}),
                                                        ("D002", "ratio", {"A": 1, "D": -1})]
    # had the credits not been in the events, the restart would have changed the order
    forgetful = Hall(demo, hall.now)
    forgetful.state = hall.replay()
    forgetful.state.window(1).credits = {}
    assert [called(forgetful, 1)[0] for _ in range(3)] == ["A002", "D002", "A003"]
