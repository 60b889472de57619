"""Cases from acceptance to pickup, working days, follow-ups of bad ratings and complaints,
through the engine (what the writer runs), on the demo hall and its catalog."""

from __future__ import annotations

from datetime import date

import pytest

from controller.core import cases as cs
from controller.core import commands as c
from controller.core import complaints as cp
from controller.core import followups as fu
from controller.core.workdays import add_working_days
from tests.cases.helpers import CFG, Hall, at

PROMISED = "330100-BDC-01-002"  # 转移登记: promised, 3 working days, 完税凭证 may follow
INSTANT = "330100-GJJ-001"  # 租房提取: instant


def test_working_days_skip_weekends_and_holidays_and_count_make_up_days() -> None:
    rules = CFG.cases
    assert add_working_days(date(2026, 11, 27), 3, rules) == date(2026, 12, 2)  # Fri -> Wed
    # National Day week: 10-01..07 off except the weekend, 10-10 (Saturday) worked.
    assert add_working_days(date(2026, 9, 30), 1, rules) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1, rules) == date(2026, 10, 10)
    assert add_working_days(date(2026, 9, 25), 1, rules) == date(2026, 9, 27)  # a Sunday worked


def test_a_promised_case_runs_to_the_pickup_area() -> None:
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    accepted = h.ok(cs.AcceptCase("CASE-1", window=1, actor="tok", role="clerk"))
    assert accepted[0].data["due_date"] == "2026-12-02"
    assert accepted[0].data["ticket_id"] == tid and accepted[0].data["case_type"] == "promised"
    h.ok(c.Complete(1, "CASE-1"))
    assert h.state.tickets[tid].case_no == "CASE-1"
    case = cs.get(h.state, "CASE-1")
    h.ok(cs.CaseAction("CASE-1", "circulate"))
    assert (case.status, case.direction) == ("circulating", "to_back_office")
    h.ok(cs.CaseAction("CASE-1", "approve"))
    h.ok(cs.CaseAction("CASE-1", "circulate"))
    assert case.direction == "to_pickup"
    # Not ready yet: no pickup ticket.
    assert h.refused(cs.TakePickupTicket("p-0", "CASE-1")).code == "not_ready"
    h.ok(cs.CaseAction("CASE-1", "ready"))
    assert (case.status, case.location) == ("ready", "pickup_area")
    issued = h.ok(cs.TakePickupTicket("p-1", "CASE-1"))
    assert h.types(issued) == ["ticket.issued", "case.pickup_ticket"]
    assert issued[0].data["category"] == "H" and issued[0].data["case_no"] == "CASE-1"
    assert h.refused(cs.TakePickupTicket("p-2", "CASE-1")).code == "pickup_ticket_exists"
    h.ok(cs.CaseAction("CASE-1", "pick_up", note="本人领取"))
    assert case.status == "picked_up" and "CASE-1" not in cs.book(h.state).open
    assert h.refused(cs.CaseAction("CASE-1", "ready")).code == "bad_case_state"
    assert [x["event"] for x in case.history] == [
        "accepted", "circulating", "approved", "circulating", "ready", "pickup_ticket",
        "picked_up"]


def test_an_instant_case_is_handed_over_at_the_window() -> None:
    h = Hall()
    h.serve(4, "C", item_code=INSTANT)
    h.ok(cs.AcceptCase("CASE-2", window=4))
    case = cs.get(h.state, "CASE-2")
    assert case.due_date is None and case.case_type == "instant"
    h.ok(cs.CaseAction("CASE-2", "approve"))
    assert h.refused(cs.CaseAction("CASE-2", "circulate")).code == "bad_case_state"
    h.ok(cs.CaseAction("CASE-2", "pick_up"))
    assert case.status == "picked_up"


def test_accept_with_missing_materials() -> None:
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    # Only materials the item lets follow later.
    assert h.refused(cs.AcceptCase("CASE-3", window=1, missing=("买卖合同",))).code == (
        "not_may_follow")
    events = h.ok(cs.AcceptCase("CASE-3", window=1, missing=("完税凭证",)))
    assert events[0].data["missing"] == ["完税凭证"]
    assert events[0].data["missing_due"] == "2026-12-04"  # 5 working days
    assert h.refused(cs.CaseAction("CASE-3", "approve")).code == "materials_missing"
    assert h.refused(cs.CaseAction("CASE-3", "supply", ("买卖合同",))).code == "not_missing"
    h.ok(cs.CaseAction("CASE-3", "supply", ("完税凭证",)))
    h.ok(cs.CaseAction("CASE-3", "approve"))
    assert h.refused(cs.AcceptCase("CASE-3", item_code=PROMISED)).code == "case_exists"


def test_overdue_cases_raise_a_supervision_flag_once() -> None:
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("CASE-4", window=1, missing=("完税凭证",)))
    h.ok(cs.AcceptCase("CASE-5", item_code=PROMISED))
    h.ok(cs.CaseAction("CASE-5", "approve"))
    h.ok(cs.CaseAction("CASE-5", "ready"))  # ready in time: never flagged
    h.now = at("2026-12-02 17:00")  # the due date itself: not yet overdue
    assert not [e for e in h.ok(c.Tick()) if e.type == cs.CASE_OVERDUE]
    h.now = at("2026-12-03 08:00")
    flags = [e.data for e in h.ok(c.Tick()) if e.type == cs.CASE_OVERDUE]
    assert flags == [{"case_no": "CASE-4", "kind": "promise", "due_date": "2026-12-02",
                      "item_code": PROMISED}]
    assert cs.get(h.state, "CASE-4").overdue
    h.now = at("2026-12-05 09:00")
    flags = [e.data for e in h.ok(c.Tick()) if e.type == cs.CASE_OVERDUE]
    assert [(f["case_no"], f["kind"]) for f in flags] == [("CASE-4", "materials")]
    assert not [e for e in h.ok(c.Tick()) if e.type == cs.CASE_OVERDUE]


def test_a_case_needs_an_item_and_a_served_ticket() -> None:
    h = Hall()
    h.ok(c.IssueTicket("t-w", "A", "kiosk"))
    assert h.refused(cs.AcceptCase("CASE-6", ticket_id="t-w", item_code=PROMISED)).code == (
        "not_served")
    assert h.refused(cs.AcceptCase("CASE-6")).code == "item_required"
    assert h.refused(cs.AcceptCase("bad case no", item_code=PROMISED)).code == "bad_case_no"
    assert h.refused(cs.AcceptCase("CASE-6", item_code="330100-BDC")).code == (
        "item_not_servable")


def _rated(h: Hall, level: int, reasons: tuple[str, ...] = ()) -> list[object]:
    h.serve(4, "C", item_code=INSTANT)
    h.ok(c.Complete(4, "CASE-R"))
    return h.ok(c.Evaluate("ev-1", level, "pad", reasons=reasons, pad_window=4))


def test_a_bad_rating_opens_a_follow_up_in_the_same_commit() -> None:
    h = Hall()
    events = _rated(h, 2, ("E02",))
    assert h.types(events) == ["evaluation.recorded", "followup.opened"]  # type: ignore[arg-type]
    opened = events[1].data  # type: ignore[attr-defined]
    assert opened["alert"] == "bad_evaluation" and opened["window"] == 4
    assert opened["item_code"] == INSTANT and opened["case_no"] == "CASE-R"
    assert opened["deadlines"] == {"verify": "2026-11-30", "rectify": "2026-12-04",
                                   "revisit": "2026-12-08", "close": "2026-12-11"}
    f = fu.ledger(h.state)["ev-1"]
    assert h.refused(fu.FollowUpStep("ev-1", "rectify", "x")).code == "step_out_of_order"
    assert h.refused(fu.FollowUpStep("ev-1", "verify", "  ")).code == "note_required"
    h.ok(fu.FollowUpStep("ev-1", "verify", "调取录像，属实", actor="sup", role="supervisor"))
    h.now = at("2026-12-07 10:00")  # past the rectify deadline: recorded as late
    late = h.ok(fu.FollowUpStep("ev-1", "rectify", "窗口人员培训"))
    assert late[0].data["late"] is True
    h.ok(fu.FollowUpStep("ev-1", "revisit", "电话回访 138 0013 8000，满意"))
    assert "13800138000" not in f.done[-1]["note"]
    h.ok(fu.FollowUpStep("ev-1", "close", "办结"))
    assert f.closed and f.done[0]["by"] == {"token": "sup", "role": "supervisor"}
    assert h.refused(fu.FollowUpStep("ev-1", "close", "again")).code == "followup_closed"


def test_a_good_rating_opens_nothing() -> None:
    h = Hall()
    assert h.types(_rated(h, 4)) == ["evaluation.recorded"]  # type: ignore[arg-type]
    assert fu.ledger(h.state) == {}


def test_complaints_are_tracked_to_closure_with_a_deadline() -> None:
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("CASE-7", window=1))
    assert h.refused(cp.RegisterComplaint("k-0", "fax", "x")).code == "bad_channel"
    assert h.refused(cp.RegisterComplaint("k-0", "phone", "x", case_no="NOPE")).status == 404
    events = h.ok(cp.RegisterComplaint("k-1", "phone", "材料多次补交仍未受理，跑了三次",
                                       case_no="CASE-7", role="supervisor"))
    d = events[0].data
    assert d["number"] == "TS20261127001" and d["window"] == 1 and d["deadline"] == "2026-12-04"
    h.ok(cp.RegisterComplaint("k-2", "wechat", "排队时间太长", ticket_id=tid))
    x = cp.desk(h.state).complaints["k-1"]
    assert h.refused(cp.ComplaintAction("k-1", "close", "x")).code == "bad_complaint_state"
    h.ok(cp.ComplaintAction("k-1", "assign", "督查科 王科长"))
    h.ok(cp.ComplaintAction("k-1", "resolve", "已当场受理并致歉"))
    h.ok(cp.ComplaintAction("k-1", "close", "回访满意"))
    assert x.status == "closed" and x.assignee == "督查科 王科长"
    h.now = at("2026-12-07 09:00")
    flags = [e.data for e in h.ok(c.Tick()) if e.type == cp.COMPLAINT_OVERDUE]
    assert flags == [{"complaint_id": "k-2", "deadline": "2026-12-04"}]


@pytest.mark.parametrize("missing", [("完税凭证", "完税凭证")])
def test_a_material_named_twice_is_refused(missing: tuple[str, ...]) -> None:
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    assert h.refused(cs.AcceptCase("CASE-8", window=1, missing=missing)).code == "bad_missing"


def test_the_case_book_rebuilt_from_the_log_is_the_live_one() -> None:
    """What a restart does: apply the committed events in order to a fresh state."""
    from controller.core.state import HallState, apply

    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("CASE-9", window=1, missing=("完税凭证",), actor="t", role="clerk"))
    h.ok(c.Complete(1, "CASE-9"))
    h.ok(c.Evaluate("ev-9", 1, "pad", reasons=("E01",), pad_window=1))
    h.ok(fu.FollowUpStep("ev-9", "verify", "属实"))
    h.ok(cp.RegisterComplaint("k-9", "letter", "慢", case_no="CASE-9"))
    h.now = at("2026-12-10 09:00")
    h.ok(c.Tick())
    again = HallState()
    for e in h.events:
        apply(again, e.type, e.data, h.now)
    assert cs.book(again).cases["CASE-9"].status == cs.book(h.state).cases["CASE-9"].status
    assert cs.book(again).cases["CASE-9"].overdue and cs.book(again).cases["CASE-9"].materials_overdue
    assert fu.ledger(again)["ev-9"].next_step == "rectify"
    assert cp.desk(again).complaints["k-9"].overdue


def test_a_clerk_accepts_only_what_their_window_served() -> None:
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    refusal = h.refused(cs.AcceptCase("CASE-10", ticket_id=tid, window=2))
    assert (refusal.code, refusal.status) == ("not_this_window", 403)


def test_the_review_report_finds_a_case_accepted_after_completion() -> None:
    """The clerk completes without the case number, then accepts the case for the window's
    last ticket: the report still names the case, its item and its type."""
    from controller.sync.review_report import report_fields

    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(c.Complete(1))
    h.ok(cs.AcceptCase("CASE-11", window=1))
    h.ok(c.Evaluate("ev-11", 4, "pad", pad_window=1))
    fields = report_fields(CFG, h.state, h.state.evaluations["ev-11"])
    assert fields["projectNo"] == "CASE-11" and fields["taskCode"] == PROMISED
    assert fields["taskName"] == "国有建设用地使用权及房屋所有权转移登记"
    assert (fields["promiseTime"], fields["proStatus"]) == ("1", "2")
