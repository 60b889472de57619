"""The display composer: what the hall wall and the window screens show, from the state."""

from __future__ import annotations

import json

from controller.config import DEFAULT_CONFIG, load_config
from controller.core import commands as c
from controller.core.engine import execute
from controller.core.state import HallState
from controller.display import compose, hall_display, register_advice, window_display

CFG = load_config(DEFAULT_CONFIG)
T0 = 1_800_000_000.0


def run(state: HallState, *commands: c.Command, now: float = T0) -> float:
    for i, cmd in enumerate(commands):
        outcome = execute(state, CFG, cmd, now + i)
        assert outcome.refusal is None, outcome.refusal
    return now + len(commands)


def test_an_empty_hall_shows_every_category_with_nobody_waiting() -> None:
    view = hall_display(HallState(), CFG, T0)
    assert view["calls"] == []
    assert [w["prefix"] for w in view["waiting"]] == list(CFG.categories)
    assert all(w["waiting"] == 0 for w in view["waiting"])
    assert view["hall_name"] == CFG.hall_name
    assert view["advice"] is None
    assert view["voice"]["backend"] == "browser"


def test_calls_newest_first_with_text_and_speech() -> None:
    state = HallState()
    now = run(state, c.OpenWindow(3), c.OpenWindow(12), c.IssueTicket("t1", "A", "kiosk"),
              c.IssueTicket("t2", "F", "kiosk"), c.CallNext(3), c.CallNext(12))
    view = hall_display(state, CFG, now)
    assert [(x["number"], x["window"]) for x in view["calls"]] == [("F001", 12), ("A001", 3)]
    assert view["calls"][1]["text"] == "请A001号到3号窗口办理"
    assert view["calls"][0]["speech"] == "请F零零一号到十二号窗口办理"
    assert view["lines"][:2] == ["请F001号到12号窗口办理", "请A001号到3号窗口办理"]
    # a recall moves the call to the top and is marked as such
    now = run(state, c.Recall(3), now=now + 5)
    first = hall_display(state, CFG, now)["calls"][0]
    assert (first["number"], first["kind"]) == ("A001", "recalled")
    assert first["text"].startswith("再次呼叫")


def test_waiting_counts_and_done_tickets_leave_the_wall() -> None:
    state = HallState()
    now = run(state, c.OpenWindow(1), *(c.IssueTicket(f"a{i}", "A", "kiosk") for i in range(3)),
              c.IssueTicket("b1", "B", "kiosk"), c.CallNext(1))
    view = hall_display(state, CFG, now)
    counts = {w["prefix"]: w["waiting"] for w in view["waiting"]}
    assert counts["A"] == 2 and counts["B"] == 1 and counts["C"] == 0
    assert view["waiting"][0]["open_windows"] == [1]
    assert "不动产登记(A) 等候2人" in view["lines"]
    now = run(state, c.Complete(1, "330100202611270001", None), now=now)
    assert hall_display(state, CFG, now)["calls"] == []


def test_notices_until_their_end_and_advice_when_registered() -> None:
    state = HallState()
    now = run(state, c.PublishNotice("n1", "今日下午二楼暂停办理出入境业务", T0 + 600),
              c.PublishNotice("n2", "请携带身份证原件", None))
    texts = [n["text"] for n in hall_display(state, CFG, now)["notices"]]
    assert texts == ["今日下午二楼暂停办理出入境业务", "请携带身份证原件"]
    assert [n["text"] for n in hall_display(state, CFG, T0 + 700)["notices"]] == ["请携带身份证原件"]
    register_advice(lambda s, cfg, t: "周三下午人少，建议错时办理")
    try:
        view = hall_display(state, CFG, now)
        assert view["advice"] == "周三下午人少，建议错时办理"
        assert view["lines"][-1] == view["advice"]
    finally:
        compose._advice.clear()


def test_window_screen_modes() -> None:
    state = HallState()
    closed = window_display(state, CFG, 12)
    assert closed["mode"] == "closed" and closed["lines"][0] == "12号窗口"
    now = run(state, c.OpenWindow(12))
    idle = window_display(state, CFG, 12)
    assert idle["mode"] == "idle"
    assert idle["lines"] == ["12号窗口", "热情为您服务", "出入境"]
    assert idle["categories"] == [{"prefix": "F", "name": "出入境"}]
    now = run(state, c.IssueTicket("f1", "F", "kiosk"), c.CallNext(12), now=now)
    serving = window_display(state, CFG, 12)
    assert serving["mode"] == "serving"
    assert serving["current"]["number"] == "F001"
    assert serving["lines"][1] == "请F001号办理"
    now = run(state, c.Complete(12, None, None), c.PauseWindow(12, "系统维护"), now=now)
    paused = window_display(state, CFG, 12)
    assert paused["mode"] == "paused" and paused["pause_reason"] == "系统维护"
    assert paused["lines"] == ["12号窗口", "暂停服务", "系统维护"]
    run(state, c.ResumeWindow(12), now=now)
    assert window_display(state, CFG, 12)["mode"] == "idle"


def test_transfer_clears_the_window_and_the_wall() -> None:
    state = HallState()
    now = run(state, c.OpenWindow(1), c.IssueTicket("a1", "A", "kiosk"), c.CallNext(1),
              c.Transfer(1, "需先办理税务", to_category="E"))
    assert hall_display(state, CFG, now)["calls"] == []
    assert window_display(state, CFG, 1)["mode"] == "idle"
    counts = {w["prefix"]: w["waiting"] for w in hall_display(state, CFG, now)["waiting"]}
    assert counts["E"] == 1


def test_nothing_personal_is_shown() -> None:
    state = HallState()
    now = run(state, c.OpenWindow(1),
              c.IssueTicket("secret-id", "A", "kiosk", "green", "hash-of-11010519491231002X"),
              c.CallNext(1))
    text = json.dumps([hall_display(state, CFG, now), window_display(state, CFG, 1)],
                      ensure_ascii=False)
    assert "secret-id" not in text and "hash-of" not in text and "1101" not in text
