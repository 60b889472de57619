"""A first pass through the API over real HTTP: issue, open, call, complete."""

from __future__ import annotations

from tests.conftest import Api


async def test_issue_call_complete(hall: Api) -> None:
    ticket = await hall.issue("A")
    assert ticket["number"] == "A001"
    assert ticket["status"] == "waiting"
    status, body = await hall.window(1, "open")
    assert status == 200 and body["window"]["state"] == "open"
    status, body = await hall.window(1, "call-next")
    assert status == 200 and body["ticket"]["id"] == ticket["id"]
    status, body = await hall.window(1, "complete", {"case_no": "330100202611270001"})
    assert status == 200 and body["ticket"]["status"] == "completed"
    status, body = await hall.call("GET", f"/api/tickets/{ticket['id']}", hall.tokens.kiosk)
    assert [h["event"] for h in body["history"]] == ["issued", "called", "completed"]
