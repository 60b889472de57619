"""Congestion rules (8.2): fire, stay single, clear, and supervisors' ack and resolve."""

from __future__ import annotations

from controller.core import commands as c
from controller.core.alerts import (
    ALERT_CLEARED,
    ALERT_RAISED,
    AcknowledgeAlert,
    ResolveAlert,
    alerts,
    module_state,
)
from controller.core.engine import execute
from controller.core.state import HallState, apply
from tests.flow.helpers import Driver, at, make_cfg


def kinds(d: Driver, when: float) -> list[tuple[str, dict]]:
    out = d.run(when, c.Tick())
    return [(e.type, e.data) for e in out.events if e.type.startswith("alert.")]


def test_waiting_rule_fires_once_and_clears_with_a_suggestion() -> None:
    d = Driver(make_cfg(max_waiting=3, min_arrivals=100))
    for i in range(4):
        d.issue(at(9, 0, i), f"a{i}", "A")
    raised = kinds(d, at(9, 0, 10))
    assert [k for k, _ in raised] == [ALERT_RAISED]
    data = raised[0][1]
    assert data["alert_id"] == "alert-1" and data["rule"] == "waiting"
    assert (data["value"], data["threshold"]) == (4, 3)
    # Table 1 for a peak of 4 asks 4 intake staff, none open: every closed window for A,
    # the one serving only A first.
    s = data["suggestion"]
    assert [w["window"] for w in s["open_windows"]] == [1, 3]
    assert s["recommended_intake"] == 4 and s["open_intake"] == 0
    assert s["text"].startswith("建议开放1号窗口、3号窗口")
    assert kinds(d, at(9, 0, 15)) == []  # still holding: no second alert
    d.run(at(9, 1), c.OpenWindow(1))
    d.run(at(9, 1), c.CallNext(1))
    assert kinds(d, at(9, 1, 5)) == []  # 3 waiting: not above the clearing level 2.4
    d.run(at(9, 2), c.CallNext(1))
    cleared = kinds(d, at(9, 2, 5))
    assert cleared == [(ALERT_CLEARED, {"alert_id": "alert-1", "key": "waiting"})]
    alert = alerts(d.state)[0]
    assert alert["active"] is False and alert["state"] == "raised"


def test_supervisor_acknowledges_and_resolves() -> None:
    d = Driver(make_cfg(max_waiting=1, min_arrivals=100))
    d.issue(at(9, 0), "a", "A")
    d.issue(at(9, 0, 1), "b", "A")
    kinds(d, at(9, 0, 5))
    d.run(at(9, 1), AcknowledgeAlert("alert-1", by="tok-sup", note="已安排"))
    a = alerts(d.state)[0]
    assert a["state"] == "acknowledged" and a["acknowledged_by"] == "tok-sup"
    d.run(at(9, 2), ResolveAlert("alert-1", by="tok-sup"))
    assert alerts(d.state)[0]["state"] == "resolved"
    again = execute(d.state, d.cfg, ResolveAlert("alert-1"), at(9, 3))
    assert again.refusal is not None and again.refusal.status == 409
    missing = execute(d.state, d.cfg, AcknowledgeAlert("alert-99"), at(9, 3))
    assert missing.refusal is not None and missing.refusal.status == 404
    # Resolved but the condition still holds: latched, no new alert at the next tick.
    assert kinds(d, at(9, 4)) == []


def test_longest_wait_over_service_level() -> None:
    d = Driver(make_cfg(max_waiting=0, min_arrivals=100))
    d.issue(at(9, 0), "b1", "B")  # B's service level: 20 minutes
    assert kinds(d, at(9, 20)) == []
    raised = kinds(d, at(9, 20, 30))
    assert raised[0][1]["key"] == "service_level:B" and raised[0][1]["value"] == 20.5
    assert [w["window"] for w in raised[0][1]["suggestion"]["open_windows"]][0] in (2, 4)
    d.run(at(9, 21), c.OpenWindow(2))
    d.run(at(9, 21), c.CallNext(2))
    assert [k for k, _ in kinds(d, at(9, 21, 5))] == [ALERT_CLEARED]


def test_arrivals_above_capacity() -> None:
    d = Driver(make_cfg(max_waiting=0, min_arrivals=6, over_service_level=False))
    d.run(at(9, 0), c.OpenWindow(2))  # one window for B, 5 min a ticket: 0.2 per minute
    for i in range(5):
        d.issue(at(9, i), f"b{i}", "B")
    assert kinds(d, at(9, 5)) == []  # 5 tickets: under min_arrivals
    d.issue(at(9, 6), "b5", "B")  # 6 in 15 min = 0.4 per minute > 0.2
    raised = kinds(d, at(9, 6, 5))
    assert raised[0][1]["key"] == "arrivals:B"
    assert raised[0][1]["value"] == 0.4 and raised[0][1]["threshold"] == 0.2
    assert next(iter(kinds(d, at(9, 30))))[0] == ALERT_CLEARED  # the 15-minute window moved on


def test_alerts_rebuild_from_the_log() -> None:
    d = Driver(make_cfg(max_waiting=1, min_arrivals=100))
    d.issue(at(9, 0), "a", "A")
    d.issue(at(9, 0, 1), "b", "A")
    kinds(d, at(9, 0, 5))
    d.run(at(9, 1), AcknowledgeAlert("alert-1", by="x"))
    rebuilt = HallState()
    for seq, ts, kind, data in d.log:
        apply(rebuilt, kind, data, ts, seq)
    assert module_state(rebuilt) == module_state(d.state)
