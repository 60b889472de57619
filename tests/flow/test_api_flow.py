"""The flow endpoints on the real daemon over HTTP: flow, staffing, alerts, flags,
off-peak advice and counter readings, with their roles."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import Api


async def wait_for_alert(hall: Api, timeout: float = 15.0) -> dict:
    """The ticker runs every 5 s: poll until it has raised something."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await hall.call("GET", "/api/alerts", hall.tokens.supervisor)
        assert status == 200
        if body["alerts"]:
            return body["alerts"][0]
        assert time.monotonic() < deadline, "no alert raised"
        await asyncio.sleep(0.2)


async def test_flow_staffing_alerts_flags(hall: Api) -> None:
    for _ in range(6):  # six tickets with no window open: arrivals above capacity
        await hall.issue("G")
    await hall.issue("A", channel="sms")
    assert (await hall.window(1, "open"))[0] == 200
    assert (await hall.window(1, "call-next"))[0] == 200
    assert (await hall.window(1, "complete"))[0] == 200

    status, flow = await hall.call("GET", "/api/flow", hall.tokens.supervisor)
    assert status == 200, flow
    assert flow["totals"]["issued"] == 7
    assert flow["totals"]["issued_by_category"]["G"] == 6
    assert flow["totals"]["issued_by_channel"] == {"kiosk": 6, "sms": 1}
    assert flow["totals"]["completed"] == 1 and flow["peak_5min"] == 7
    assert flow["staffing"]["intake"] == 4

    status, staffing = await hall.call("GET", "/api/staffing", hall.tokens.supervisor)
    assert status == 200
    now = staffing["now"]
    intake = next(p for p in now["posts"] if p["post"] == "intake")
    assert intake == {"post": "intake", "window_post": "intake", "recommended": 4,
                      "open": 1, "short": 3}
    online = next(p for p in now["posts"] if p["post"] == "consult_online")
    assert online["open"] is None

    alert = await wait_for_alert(hall)
    assert alert["rule"] == "arrivals" and alert["state"] == "raised"
    assert alert["suggestion"]["open_windows"][0]["window"] in (13, 14, 16)
    path = f"/api/alerts/{alert['id']}"
    assert (await hall.call("POST", path + "/ack", hall.tokens.kiosk))[0] == 403
    status, acked = await hall.call("POST", path + "/ack", hall.tokens.supervisor,
                                    {"note": "已开窗"})
    assert status == 200 and acked["state"] == "acknowledged" and acked["note"] == "已开窗"
    status, done = await hall.call("POST", path + "/resolve", hall.tokens.supervisor)
    assert status == 200 and done["state"] == "resolved"
    assert (await hall.call("POST", path + "/resolve", hall.tokens.supervisor))[0] == 409
    assert (await hall.call("POST", "/api/alerts/nope/ack", hall.tokens.supervisor))[0] == 404
    status, listed = await hall.call("GET", "/api/alerts?state=resolved",
                                     hall.tokens.supervisor)
    assert [a["id"] for a in listed["alerts"]] == [alert["id"]]

    status, flags = await hall.call("GET", "/api/flags", hall.tokens.supervisor)
    assert status == 200 and flags["flags"] == []


async def test_roles_queries_counters_and_off_peak(hall: Api) -> None:
    assert (await hall.call("GET", "/api/flow"))[0] == 401
    assert (await hall.call("GET", "/api/flow", hall.tokens.kiosk))[0] == 403
    status, body = await hall.call("GET", "/api/flow?date=2024-13-01", hall.tokens.supervisor)
    assert status == 400 and body["error"] == "bad_query"
    status, body = await hall.call("GET", "/api/flow?date=2024-03-04", hall.tokens.admin)
    assert status == 200 and body["totals"]["issued"] == 0 and len(body["slots"]) == 18

    status, body = await hall.call("POST", "/api/counter-readings", hall.tokens.admin,
                                   {"counter": "door-1", "in": 5, "out": 2})
    assert status == 201, body
    assert (await hall.call("POST", "/api/counter-readings", hall.tokens.admin,
                            {"counter": "door-1"}))[0] == 400
    assert (await hall.call("POST", "/api/counter-readings", hall.tokens.supervisor,
                            {"counter": "door-1", "in": 1}))[0] == 403
    status, flow = await hall.call("GET", "/api/flow", hall.tokens.supervisor)
    assert flow["totals"]["counter_in"] == 5 and flow["totals"]["counter_out"] == 2

    status, advice = await hall.call("GET", "/api/off-peak")  # public
    assert status == 200 and advice["weeks"] == 4 and advice["days_used"] == 0
