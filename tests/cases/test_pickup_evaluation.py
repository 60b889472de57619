"""A pickup ticket (统一出件) carries its case through to completion and evaluation.

The pickup ticket is issued for a case (`ticket.issued` names it): completing it without a
case number must keep that case, so that the pickup service is rated as the case (one
first evaluation per case, DOMAIN.md) and the review report finds the case. Through the
engine on the demo hall, and over HTTP against its daemon.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import HallConfig
from controller.core import cases as cs
from controller.core import commands as c
from controller.core.state import HallState, apply
from tests.cases.helpers import Hall
from tests.conftest import Api, make_tokens, running_hall

PROMISED = "330100-BDC-01-002"  # 转移登记: promised, 3 working days


def _to_pickup(h: Hall, case_no: str = "X1") -> str:
    """Intake at window 1 (completed with the case and rated), the case made ready, a
    pickup ticket taken and served at window 15: its id."""
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase(case_no, window=1))
    h.ok(c.Complete(1, case_no=case_no))
    h.ok(c.Evaluate("ev-intake", 5, "pad", pad_window=1))
    h.ok(cs.CaseAction(case_no, "approve"))
    h.ok(cs.CaseAction(case_no, "ready"))
    h.ok(cs.TakePickupTicket("p1", case_no))
    h.ok(c.OpenWindow(15))
    called = h.ok(c.CallNext(15))
    assert called[-1].data["ticket_id"] == "p1"
    return "p1"


def test_a_pickup_ticket_completed_without_a_number_keeps_its_case() -> None:
    h = Hall()
    pid = _to_pickup(h)
    assert h.state.tickets[pid].case_no == "X1"  # from its ticket.issued
    h.ok(c.Complete(15))
    assert h.state.tickets[pid].case_no == "X1"
    assert h.state.tickets[pid].item_code == PROMISED
    # The case was rated at intake: the pickup service is the same case, and its rating
    # is the case's follow-up (追评), not a second first evaluation; a third is refused.
    [follow] = h.ok(c.Evaluate("ev-pickup", 4, "pad", pad_window=15))
    assert (follow.data["key"], follow.data["assess_number"]) == ("case:X1#2", 2)
    assert follow.data["case_no"] == "X1"
    refusal = h.refused(c.Evaluate("ev-again", 3, "pad", pad_window=15))
    assert (refusal.code, refusal.status) == ("already_evaluated", 409)
    assert "ev-again" not in h.state.evaluations
    # A restart rebuilds the same link from the log.
    again = HallState()
    for e in h.events:
        apply(again, e.type, e.data, h.now)
    assert again.tickets[pid].case_no == "X1"


def test_a_pickup_ticket_is_rated_as_its_case_when_the_intake_was_not() -> None:
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("X2", window=1))
    h.ok(c.Complete(1, case_no="X2"))  # nobody rated at intake
    h.ok(cs.CaseAction("X2", "approve"))
    h.ok(cs.CaseAction("X2", "ready"))
    h.ok(cs.TakePickupTicket("p2", "X2"))
    h.ok(c.OpenWindow(15))
    h.ok(c.CallNext(15))
    h.ok(c.Complete(15))
    [rated] = h.ok(c.Evaluate("ev-p2", 5, "pad", pad_window=15))
    assert (rated.data["key"], rated.data["case_no"]) == ("case:X2", "X2")
    assert rated.data["item_code"] == PROMISED


def test_a_clerks_explicit_case_number_still_wins() -> None:
    h = Hall()
    pid = _to_pickup(h)
    h.ok(c.Complete(15, case_no="X9"))
    assert h.state.tickets[pid].case_no == "X9"


# ---- over HTTP ---------------------------------------------------------------------------

@pytest.fixture
async def pickup_hall(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[Api]:
    """The demo hall with clerk and pad tokens for intake window 1 and pickup window 15."""
    data_dir = tmp_path / "data"
    async with running_hall(demo_cfg, data_dir, make_tokens(data_dir, (1, 15))) as api:
        yield api


async def _ok(api: Api, method: str, path: str, token: str | None, body: Any = None,
              status: int = 200) -> Any:
    got, answer = await api.call(method, path, token, body)
    assert got == status, (path, got, answer)
    return answer


async def test_the_pickup_service_is_the_cases_follow_up_over_http(
        pickup_hall: Api) -> None:
    api, t = pickup_hall, pickup_hall.tokens
    await _ok(api, "POST", "/api/tickets", t.kiosk, {"item_code": PROMISED}, status=201)
    await api.window(1, "open", token=t.clerk[1])
    await api.window(1, "call-next", token=t.clerk[1])
    await _ok(api, "POST", "/api/cases", t.clerk[1], {"case_no": "X1"}, status=201)
    status, _ = await api.window(1, "complete", {"case_no": "X1"}, token=t.clerk[1])
    assert status == 200
    first = await _ok(api, "POST", "/api/evaluations", t.pad[1], {"level": 5}, status=201)
    assert first["case_no"] == "X1"
    await _ok(api, "POST", "/api/cases/X1/approve", t.supervisor, {})
    await _ok(api, "POST", "/api/cases/X1/ready", t.supervisor, {})
    pickup = await _ok(api, "POST", "/api/cases/X1/pickup-ticket", t.kiosk, status=201)
    await api.window(15, "open", token=t.clerk[15])
    await api.window(15, "call-next", token=t.clerk[15])
    status, done = await api.window(15, "complete", token=t.clerk[15])
    assert status == 200 and done["ticket"]["id"] == pickup["id"]
    assert done["ticket"]["case_no"] == "X1"
    follow = await _ok(api, "POST", "/api/evaluations", t.pad[15], {"level": 4}, status=201)
    assert (follow["case_no"], follow["assess_number"]) == ("X1", 2)
    got, err = await api.call("POST", "/api/evaluations", t.pad[15], {"level": 3})
    assert (got, err["error"]) == (409, "already_evaluated")


def _pickup_served(h: Hall, case_no: str, pickup_id: str) -> None:
    h.ok(cs.CaseAction(case_no, "approve"))
    h.ok(cs.CaseAction(case_no, "ready"))
    h.ok(cs.TakePickupTicket(pickup_id, case_no))
    h.ok(c.OpenWindow(15))
    h.ok(c.CallNext(15))
    h.ok(c.Complete(15))


def test_an_intake_completed_without_the_number_is_still_the_cases_service() -> None:
    """The case accepted naming the ticket, the ticket completed without the number, then
    rated: the rating is the case's, and the pickup cannot rate the case again."""
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("X3", window=1))
    h.ok(c.Complete(1))  # no case number given
    [rated] = h.ok(c.Evaluate("ev-intake", 5, "pad", pad_window=1))
    assert (rated.data["key"], rated.data["case_no"], rated.data["ticket_id"]) == (
        "case:X3", "X3", tid)
    _pickup_served(h, "X3", "p3")
    [follow] = h.ok(c.Evaluate("ev-pickup", 4, "pad", pad_window=15))
    assert follow.data["key"] == "case:X3#2"  # the case's follow-up, not its first


def test_a_rating_before_the_case_was_accepted_is_the_cases_first() -> None:
    """Rated first (no case yet), the case accepted afterwards naming that ticket: the
    pickup cannot rate the case a second time, live or after a restart."""
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    h.ok(c.Complete(1))
    h.ok(c.Evaluate("ev-intake", 5, "pad", pad_window=1))
    h.ok(cs.AcceptCase("X4", ticket_id=tid))
    _pickup_served(h, "X4", "p4")
    [follow] = h.ok(c.Evaluate("ev-pickup", 4, "pad", pad_window=15))
    assert follow.data["key"] == "case:X4#2"  # the case's follow-up in the hall, but
    # the first went up under its ticket (no case then): upstream, this is the case's first.
    assert "assess_number" not in follow.data
    assert h.refused(c.Evaluate("ev-3", 3, "sms", case_no="X4")).code == "already_evaluated"
    again = HallState()
    for e in h.events:
        apply(again, e.type, e.data, h.now)
    assert again.evaluated.get("case:X4") == "ev-intake"


def test_a_follow_up_is_a_later_service_or_from_afar_never_a_second_touch() -> None:
    """The same service rated again at the window is not a follow-up (a second touch on
    the pad, a change of mind); the same case rated later by SMS is."""
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("X5", window=1))
    h.ok(c.Complete(1, case_no="X5"))
    h.ok(c.Evaluate("ev-1", 5, "pad", pad_window=1))
    assert h.refused(c.Evaluate("ev-2", 3, "pad", pad_window=1)).code == "already_evaluated"
    assert h.refused(c.Evaluate("ev-3", 4, "keypad", case_no="X5")).code == (
        "already_evaluated")
    [follow] = h.ok(c.Evaluate("ev-4", 4, "sms", case_no="X5"))
    assert (follow.data["key"], follow.data["assess_number"]) == ("case:X5#2", 2)
    assert h.refused(c.Evaluate("ev-5", 4, "qr", case_no="X5")).code == "already_evaluated"
    # A ticket without a case is rated once, from afar too.
    tid = h.serve(3, "A")
    h.ok(c.Complete(3))
    h.ok(c.Evaluate("ev-6", 5, "pad", pad_window=3))
    assert h.refused(c.Evaluate("ev-7", 4, "sms", ticket_id=tid)).code == "already_evaluated"


def test_a_pad_naming_another_channel_is_still_at_the_window() -> None:
    """The engine's own rule, whatever the API lets through: a rating made at the window
    (pad_window set) is never a follow-up from afar of the same service."""
    h = Hall()
    h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("X6", window=1))
    h.ok(c.Complete(1, case_no="X6"))
    h.ok(c.Evaluate("ev-1", 5, "pad", pad_window=1))
    assert h.refused(c.Evaluate("ev-2", 3, "qr", pad_window=1)).code == "already_evaluated"


def test_a_case_is_rated_by_its_number_when_its_ticket_was_completed_without_it() -> None:
    """The SMS/QR route names the case: it finds the service the case was accepted for
    even when the clerk completed that ticket without the number."""
    h = Hall()
    tid = h.serve(1, "A", item_code=PROMISED)
    h.ok(cs.AcceptCase("X7", window=1))
    h.ok(c.Complete(1))
    [first] = h.ok(c.Evaluate("ev-1", 4, "sms", case_no="X7"))
    assert (first.data["ticket_id"], first.data["key"]) == (tid, "case:X7")
    [follow] = h.ok(c.Evaluate("ev-2", 5, "qr", case_no="X7"))
    assert follow.data["key"] == "case:X7#2"
