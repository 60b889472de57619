"""Supervision flags (8.1) found in a scripted log."""

from __future__ import annotations

from controller.core import commands as c
from controller.core.supervision import FlagBuilder
from tests.flow.helpers import Driver, at, make_cfg


def rows(d: Driver, actor: str = "tok-1") -> list:
    return [(seq, ts, kind, data, actor) for seq, ts, kind, data in d.log]


def test_service_pause_and_transfer_flags() -> None:
    d = Driver(make_cfg(pause_limit_min=10, service_limit_factor=2.0, transfer_limit=2))
    d.run(at(9, 0), c.OpenWindow(1))
    d.run(at(9, 0), c.OpenWindow(2))
    d.issue(at(9, 0), "a1", "A")  # A: 10 min default, limit 20
    d.issue(at(9, 0), "a2", "A")
    d.run(at(9, 1), c.CallNext(1))
    d.run(at(9, 22), c.CallNext(1))  # a1 took 21 min: over; a2 called
    d.run(at(9, 30), c.Transfer(1, "先办社保", to_category="B"))  # a2: 8 min, fine
    d.run(at(9, 31), c.CallNext(2))
    d.run(at(9, 32), c.Transfer(2, "回到不动产", to_category="A"))  # back to A: a loop
    d.run(at(9, 40), c.PauseWindow(2, "午休"))
    d.run(at(9, 45), c.ResumeWindow(2))  # 5 min: fine
    d.run(at(10, 0), c.PauseWindow(2, "系统故障"))
    d.run(at(10, 11), c.ResumeWindow(2))  # 11 min: over
    d.run(at(10, 12), c.CallNext(1))  # a2 again, still serving at "now"
    b = FlagBuilder(d.cfg)
    b.feed(rows(d))
    flags = b.view("2024-03-04", now=at(10, 40))
    got = sorted((f["kind"], f.get("number"), f["ongoing"]) for f in flags)
    assert got == [
        ("service_over_limit", "A001", False),
        ("service_over_limit", "A002", True),  # 28 min at 10:40
        ("transfer_loop", "A002", False),
        ("window_paused_too_long", None, False),
    ]
    over = next(f for f in flags if f["kind"] == "service_over_limit" and not f["ongoing"])
    assert over["minutes"] == 21 and over["limit_min"] == 20 and over["window"] == 1
    assert over["actor"] == "tok-1" and over["since"] == "2024-03-04T09:01:00+08:00"
    loop = next(f for f in flags if f["kind"] == "transfer_loop")
    assert loop["categories"] == ["A", "B", "A"] and loop["window"] == 2
    pause = next(f for f in flags if f["kind"] == "window_paused_too_long")
    assert pause["minutes"] == 11 and pause["reason"] == "系统故障"
    assert b.view("2024-03-05", now=at(10, 40)) == []


def test_too_many_transfers() -> None:
    d = Driver(make_cfg(transfer_limit=1))
    d.run(at(9, 0), c.OpenWindow(1))
    d.run(at(9, 0), c.OpenWindow(2))
    d.issue(at(9, 0), "a1", "A")
    d.run(at(9, 1), c.CallNext(1))
    d.run(at(9, 2), c.Transfer(1, "x", to_window=3))
    d.run(at(9, 3), c.OpenWindow(3))
    d.run(at(9, 3), c.CallNext(3))
    d.run(at(9, 4), c.Transfer(3, "y", to_category="B"))
    b = FlagBuilder(d.cfg)
    b.feed(rows(d))
    [flag] = b.view(None, at(12))
    assert flag["kind"] == "transfer_loop" and flag["transfers"] == 2


def test_case_past_its_deadline() -> None:
    """The payloads as controller/core/cases.py writes them."""
    b = FlagBuilder(make_cfg())
    b.feed([
        (1, at(10), "case.accepted", {"case_no": "330100202403040001", "item_code": "X1",
                                      "item_name": "不动产转移登记", "case_type": "promised",
                                      "due_date": "2024-03-08", "window": 3,
                                      "by": "窗口3"}, "tok-clerk3"),
        (2, at(3, 1, day=11), "case.overdue", {"case_no": "330100202403040001",
                                               "kind": "promise", "due_date": "2024-03-08",
                                               "item_code": "X1"}, "system"),
    ])
    [flag] = b.view("2024-03-11", at(12, day=11))
    assert flag["kind"] == "case_past_deadline" and flag["deadline"] == "promise"
    assert (flag["window"], flag["actor"], flag["due_date"]) == (3, "tok-clerk3", "2024-03-08")
    assert flag["item_name"] == "不动产转移登记"
