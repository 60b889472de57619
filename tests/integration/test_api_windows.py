"""API over real HTTP: every window action and every refusal of it.

open, close, pause {reason}, resume, call-next (with and without someone waiting; a
current ticket is completed first), recall up to the limit, no-show, complete with a case
number and item code, transfer to a category or to a window (and each 400 of transfer),
suspend and call-back; each 409 state error (closed, paused, no current ticket, busy on
close, not paused, not suspended), unknown and non-numeric windows (404), and body errors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api

ACTIONS = ("open", "close", "pause", "resume", "call-next", "recall", "no-show", "complete",
           "transfer", "suspend", "call-back")


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body


async def serving(hall: Api, window: int = 1, category: str = "A") -> dict[str, Any]:
    """Open `window`, issue a ticket and call it there; returns the called ticket."""
    ticket = await hall.issue(category)
    status, body = await hall.window(window, "open")
    assert status == 200, body
    status, body = await hall.window(window, "call-next")
    assert status == 200 and body["ticket"]["id"] == ticket["id"], body
    return body["ticket"]  # type: ignore[no-any-return]


async def ticket(hall: Api, ticket_id: str) -> dict[str, Any]:
    status, body = await hall.call("GET", f"/api/tickets/{ticket_id}", hall.tokens.supervisor)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def window_state(hall: Api, number: int) -> dict[str, Any]:
    _, body = await hall.call("GET", "/api/windows")
    return next(w for w in body["windows"] if w["number"] == number)  # type: ignore[no-any-return]


async def last_seq(hall: Api) -> int:
    _, body = await hall.call("GET", "/healthz")
    return int(body["last_seq"])


# ---- open, close, pause, resume --------------------------------------------------------

async def test_open_close_pause_resume(hall: Api) -> None:
    status, body = await hall.window(3, "open")
    assert status == 200
    assert body == {"window": body["window"]}  # no ticket in a window-state answer
    w = body["window"]
    assert (w["number"], w["state"], w["current"], w["categories"]) == (3, "open", None,
                                                                        ["A", "E"])
    status, body = await hall.window(3, "open")  # opening an open window changes nothing
    assert (status, body["window"]["state"]) == (200, "open")
    assert await last_seq(hall) == 1

    status, body = await hall.window(3, "pause", {"reason": "系统故障"})
    assert status == 200
    assert (body["window"]["state"], body["window"]["pause_reason"]) == ("paused", "系统故障")
    status, body = await hall.window(3, "pause", {"reason": "午休"})  # a new reason
    assert (status, body["window"]["pause_reason"]) == (200, "午休")

    status, body = await hall.window(3, "resume")
    assert status == 200
    assert (body["window"]["state"], body["window"]["pause_reason"]) == ("open", None)
    status, body = await hall.window(3, "resume")
    assert_error(status, body, 409, "not_paused")

    status, body = await hall.window(3, "close")
    assert (status, body["window"]["state"]) == (200, "closed")
    before = await last_seq(hall)
    status, body = await hall.window(3, "close")  # closing a closed window changes nothing
    assert (status, body["window"]["state"]) == (200, "closed")
    assert await last_seq(hall) == before
    status, body = await hall.window(3, "pause", {"reason": "x"})
    assert_error(status, body, 409, "window_closed")
    status, body = await hall.window(3, "resume")
    assert_error(status, body, 409, "not_paused")


async def test_pause_reason_is_required(hall: Api) -> None:
    await hall.window(1, "open")
    for body, code in [(None, "missing_field"), ({}, "missing_field"),
                       ({"reason": None}, "missing_field"), ({"reason": "   "}, "reason_required"),
                       ({"reason": 5}, "bad_field"), ({"reason": "x" * 201}, "bad_field"),
                       ({"reason": "x", "until": "13:00"}, "unknown_field")]:
        status, answer = await hall.window(1, "pause", body)
        assert_error(status, answer, 400, code)
    assert (await window_state(hall, 1))["state"] == "open"


async def test_paused_window_gets_nothing(hall: Api) -> None:
    await hall.issue("A")
    await hall.window(1, "open")
    await hall.window(1, "pause", {"reason": "午休"})
    status, body = await hall.window(1, "call-next")
    assert_error(status, body, 409, "window_paused")
    assert "午休" in body["detail"]
    await hall.window(1, "resume")
    status, body = await hall.window(1, "call-next")
    assert status == 200 and body["ticket"]["number"] == "A001"


async def test_close_with_a_current_ticket_is_409_window_busy(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "close")
    assert_error(status, body, 409, "window_busy")
    assert called["number"] in body["detail"]
    assert (await window_state(hall, 1))["state"] == "open"
    await hall.window(1, "complete")
    status, body = await hall.window(1, "close")
    assert (status, body["window"]["state"]) == (200, "closed")


# ---- call-next ---------------------------------------------------------------------------

async def test_call_next_with_nobody_waiting_gives_null(hall: Api) -> None:
    await hall.window(1, "open")
    status, body = await hall.window(1, "call-next")
    assert status == 200
    assert body["ticket"] is None
    assert body["window"]["current"] is None


async def test_call_next_completes_the_current_ticket_first(hall: Api) -> None:
    first = await hall.issue("A")
    second = await hall.issue("D")
    await hall.window(1, "open")
    status, body = await hall.window(1, "call-next")
    assert (status, body["ticket"]["id"], body["ticket"]["status"]) == (200, first["id"],
                                                                       "called")
    assert body["ticket"]["window"] == 1
    assert body["window"]["current"]["id"] == first["id"]
    status, body = await hall.window(1, "call-next")
    assert (status, body["ticket"]["id"]) == (200, second["id"])
    assert (await ticket(hall, first["id"]))["status"] == "completed"
    status, body = await hall.window(1, "call-next")  # completes the second, nobody left
    assert (status, body["ticket"], body["window"]["current"]) == (200, None, None)
    assert body["window"]["served"] == 2
    done = await ticket(hall, second["id"])
    assert done["status"] == "completed"
    assert [h["event"] for h in done["history"]] == ["issued", "called", "completed"]


async def test_call_next_on_a_closed_window_is_409(hall: Api) -> None:
    await hall.issue("A")
    status, body = await hall.window(1, "call-next")
    assert_error(status, body, 409, "window_closed")
    _, queue = await hall.call("GET", "/api/queue")
    assert queue["categories"][0]["waiting_count"] == 1


async def test_call_next_only_takes_categories_the_window_serves(hall: Api) -> None:
    await hall.issue("B")  # windows 4-7
    await hall.window(1, "open")
    status, body = await hall.window(1, "call-next")
    assert (status, body["ticket"]) == (200, None)
    await hall.window(4, "open")
    status, body = await hall.window(4, "call-next")
    assert (status, body["ticket"]["number"]) == (200, "B001")


# ---- recall, no-show ---------------------------------------------------------------------

async def test_recall_up_to_the_limit_then_409(hall: Api) -> None:
    called = await serving(hall)
    for n in (1, 2):
        status, body = await hall.window(1, "recall")
        assert status == 200, body
        assert (body["ticket"]["id"], body["ticket"]["recalls"]) == (called["id"], n)
        assert body["window"]["current"]["id"] == called["id"]
    status, body = await hall.window(1, "recall")
    assert_error(status, body, 409, "recall_limit")
    assert (await ticket(hall, called["id"]))["recalls"] == 2


async def test_no_show_is_final(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "no-show")
    assert status == 200
    assert (body["ticket"]["id"], body["ticket"]["status"]) == (called["id"], "no_show")
    assert body["window"]["current"] is None
    status, body = await hall.window(1, "no-show")
    assert_error(status, body, 409, "no_current_ticket")
    status, body = await hall.window(1, "call-next")  # it does not come back
    assert (status, body["ticket"]) == (200, None)


@pytest.mark.parametrize(("action", "body"), [
    ("recall", None), ("no-show", None), ("complete", None), ("suspend", None),
    ("transfer", {"to_category": "B", "reason": "走错"}),
    ("transfer", {"to_window": 8, "reason": "走错"}),
])
async def test_actions_on_the_current_ticket_need_one(hall: Api, action: str,
                                                      body: dict[str, Any] | None) -> None:
    for opened in (False, True):  # closed, then open but idle
        if opened:
            await hall.window(1, "open")
        status, answer = await hall.window(1, action, body)
        assert_error(status, answer, 409, "no_current_ticket")


# ---- complete --------------------------------------------------------------------------

async def test_complete_links_the_case(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "complete",
                                     {"case_no": "330100202611270001", "item_code": "11330100-01"})
    assert status == 200
    t = body["ticket"]
    assert (t["id"], t["status"], t["case_no"], t["item_code"]) == (
        called["id"], "completed", "330100202611270001", "11330100-01")
    assert body["window"]["current"] is None and body["window"]["served"] == 1
    history = (await ticket(hall, called["id"]))["history"]
    assert history[-1]["event"] == "completed"
    assert history[-1]["case_no"] == "330100202611270001"
    status, body = await hall.window(1, "complete")
    assert_error(status, body, 409, "no_current_ticket")


async def test_complete_without_a_case(hall: Api) -> None:
    await serving(hall)
    status, body = await hall.window(1, "complete", {})
    assert status == 200
    assert (body["ticket"]["status"], body["ticket"]["case_no"]) == ("completed", None)


@pytest.mark.parametrize(("body", "code"), [
    ({"case_no": "办件 1"}, "bad_case_no"),
    ({"case_no": ""}, "bad_case_no"),
    ({"item_code": "a b"}, "bad_item_code"),
    ({"case_no": "x" * 51}, "bad_field"),
    ({"case_no": 330100}, "bad_field"),
    ({"case": "1"}, "unknown_field"),
])
async def test_complete_refuses_bad_codes(hall: Api, body: dict[str, Any], code: str) -> None:
    called = await serving(hall)
    status, answer = await hall.window(1, "complete", body)
    assert_error(status, answer, 400, code)
    assert (await ticket(hall, called["id"]))["status"] == "called"


# ---- transfer --------------------------------------------------------------------------

async def test_transfer_to_a_category_keeps_number_and_history(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "transfer", {"to_category": "E", "reason": "税务问题"})
    assert status == 200, body
    t = body["ticket"]
    assert (t["id"], t["number"], t["category"], t["status"]) == (called["id"], "A001", "E",
                                                                  "waiting")
    assert body["window"]["current"] is None
    history = (await ticket(hall, called["id"]))["history"]
    assert history[-1] == {"at": history[-1]["at"], "event": "transferred", "window": 1,
                           "to_category": "E", "reason": "税务问题"}
    _, queue = await hall.call("GET", "/api/queue")
    e = next(c for c in queue["categories"] if c["prefix"] == "E")
    assert [w["number"] for w in e["waiting"]] == ["A001"]
    await hall.window(9, "open")
    status, body = await hall.window(9, "call-next")
    assert (status, body["ticket"]["id"]) == (200, called["id"])


async def test_transfer_to_a_window(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "transfer", {"to_window": 8, "reason": "商事登记"})
    assert status == 200, body
    t = body["ticket"]
    assert (t["status"], t["category"], t["directed_window"]) == ("waiting", "A", 8)
    await hall.window(2, "open")  # serves A too, but the ticket is for window 8 only
    status, body = await hall.window(2, "call-next")
    assert (status, body["ticket"]) == (200, None)
    await hall.window(8, "open")
    status, body = await hall.window(8, "call-next")
    assert (status, body["ticket"]["id"]) == (200, called["id"])


@pytest.mark.parametrize(("body", "code"), [
    ({"to_category": "B", "to_window": 4, "reason": "x"}, "bad_transfer"),
    ({"reason": "x"}, "bad_transfer"),
    ({"to_category": "B"}, "missing_field"),
    ({"to_window": 4}, "missing_field"),
    ({"to_category": "B", "reason": ""}, "reason_required"),
    ({"to_category": "B", "reason": "  "}, "reason_required"),
    ({"to_category": "Z", "reason": "x"}, "unknown_category"),
    ({"to_category": "A", "reason": "x"}, "bad_transfer"),  # already in A
    ({"to_window": 99, "reason": "x"}, "unknown_window"),
    ({"to_window": 0, "reason": "x"}, "unknown_window"),
    ({"to_window": 1, "reason": "x"}, "bad_transfer"),  # its own window
    ({"to_window": "4", "reason": "x"}, "bad_field"),
    ({"to_window": 4.0, "reason": "x"}, "bad_field"),
    ({"to_window": True, "reason": "x"}, "bad_field"),
    ({"to_category": "BB", "reason": "x"}, "bad_field"),
    ({"to_category": "B", "reason": "x", "note": "y"}, "unknown_field"),
])
async def test_transfer_refusals_are_400(hall: Api, body: dict[str, Any], code: str) -> None:
    called = await serving(hall)
    status, answer = await hall.window(1, "transfer", body)
    assert_error(status, answer, 400, code)
    t = await ticket(hall, called["id"])
    assert (t["status"], t["category"], t["window"]) == ("called", "A", 1)


# ---- suspend, call-back ------------------------------------------------------------------

async def test_suspend_and_call_back(hall: Api) -> None:
    called = await serving(hall)
    status, body = await hall.window(1, "suspend")
    assert status == 200
    assert (body["ticket"]["id"], body["ticket"]["status"]) == (called["id"], "suspended")
    assert body["window"]["current"] is None
    other = await hall.issue("A")
    status, body = await hall.window(1, "call-next")  # the suspended one is not in the queue
    assert (status, body["ticket"]["id"]) == (200, other["id"])
    status, body = await hall.window(1, "call-back", {"ticket_id": called["id"]})
    assert status == 200, body
    assert (body["ticket"]["id"], body["ticket"]["status"]) == (called["id"], "called")
    assert body["window"]["current"]["id"] == called["id"]
    assert (await ticket(hall, other["id"]))["status"] == "completed"  # completed first
    history = (await ticket(hall, called["id"]))["history"]
    assert [h["event"] for h in history] == ["issued", "called", "suspended", "called_back"]
    status, body = await hall.window(1, "call-back", {"ticket_id": called["id"]})
    assert_error(status, body, 409, "not_suspended")


async def test_call_back_at_another_window(hall: Api) -> None:
    called = await serving(hall)
    await hall.window(1, "suspend")
    await hall.window(2, "open")
    status, body = await hall.window(2, "call-back", {"ticket_id": called["id"]})
    assert status == 200
    assert (body["ticket"]["window"], body["window"]["current"]["id"]) == (2, called["id"])


async def test_call_back_refusals(hall: Api) -> None:
    called = await serving(hall)
    waiting = await hall.issue("A")
    status, body = await hall.window(1, "call-back", {"ticket_id": "no-such-ticket"})
    assert_error(status, body, 404, "ticket_not_found")
    status, body = await hall.window(1, "call-back", {"ticket_id": waiting["id"]})
    assert_error(status, body, 409, "not_suspended")
    status, body = await hall.window(1, "call-back", {"ticket_id": called["id"]})
    assert_error(status, body, 409, "not_suspended")  # it is being served
    for bad, code in [(None, "missing_field"), ({}, "missing_field"),
                      ({"ticket_id": 7}, "bad_field"), ({"ticket_id": "x" * 65}, "bad_field")]:
        status, body = await hall.window(1, "call-back", bad)
        assert_error(status, body, 400, code)
    await hall.window(1, "suspend")
    await hall.window(1, "pause", {"reason": "x"})
    status, body = await hall.window(1, "call-back", {"ticket_id": called["id"]})
    assert_error(status, body, 409, "window_paused")
    status, body = await hall.window(3, "call-back", {"ticket_id": called["id"]})
    assert_error(status, body, 409, "window_closed")


# ---- unknown windows, bad bodies ---------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS)
async def test_unknown_or_non_numeric_window_is_404(hall: Api, action: str) -> None:
    for number in ["0", "18", "99", "-1", "abc", "1.0", "1e1", "%20", "0x1", "%EF%BC%A1"]:
        status, body = await hall.call("POST", f"/api/windows/{number}/{action}",
                                       hall.tokens.supervisor, {"reason": "x"})
        assert_error(status, body, 404, "window_not_found")
    assert await last_seq(hall) == 0


async def test_superscript_digit_window_is_404(hall: Api) -> None:
    async with hall.session.post(hall.base + "/api/windows/%C2%B2/open",
                                 headers=hall.auth(hall.tokens.supervisor)) as resp:
        status, text = resp.status, await resp.text()
    assert status == 404, text
    assert json.loads(text)["error"] == "window_not_found"


@pytest.mark.parametrize("action", ["open", "close", "resume", "call-next", "recall",
                                    "no-show", "suspend"])
async def test_actions_without_a_body_refuse_any_field(hall: Api, action: str) -> None:
    status, body = await hall.window(1, action, {"window": 2})
    assert_error(status, body, 400, "unknown_field")
    status, body = await hall.window(1, action, ["x"])
    assert_error(status, body, 400, "bad_json")
    async with hall.session.post(hall.base + f"/api/windows/1/{action}", data=b"{oops",
                                 headers=hall.auth(hall.tokens.supervisor)) as resp:
        status, body = resp.status, await resp.json()
    assert_error(status, body, 400, "bad_json")
    assert await last_seq(hall) == 0


async def test_empty_object_body_is_fine(hall: Api) -> None:
    status, body = await hall.window(1, "open", {})
    assert (status, body["window"]["state"]) == (200, "open")
