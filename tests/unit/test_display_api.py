"""The display endpoints over real HTTP: public, the same content as the composer."""

from __future__ import annotations

import aiohttp

from tests.conftest import Api


async def test_hall_and_window_displays_follow_the_calls(hall: Api) -> None:
    ticket = await hall.issue("A")
    await hall.window(3, "open")
    await hall.window(3, "call-next")
    status, view = await hall.call("GET", "/api/display/hall")
    assert status == 200
    assert view["calls"][0]["text"] == "请A001号到3号窗口办理"
    assert view["calls"][0]["speech"] == "请A零零一号到三号窗口办理"
    assert ticket["id"] not in str(view)
    status, screen = await hall.call("GET", "/api/display/windows/3")
    assert status == 200 and screen["mode"] == "serving" and screen["current"]["number"] == "A001"
    status, all_ = await hall.call("GET", "/api/display/windows")
    assert [w["number"] for w in all_["windows"]][:3] == [1, 2, 3]
    status, body = await hall.call("GET", "/api/display/windows/99")
    assert status == 404 and body["error"] == "window_not_found"


async def test_ticket_qr_and_public_status(hall: Api) -> None:
    ticket = await hall.issue("B")
    status, body = await hall.call("GET", f"/api/display/tickets/{ticket['id']}")
    assert status == 200 and body == {"number": "B001", "category_name": "社保医保",
                                      "status": "waiting", "waiting_ahead": 0, "window": None}
    async with hall.session.get(f"{hall.base}/api/display/tickets/{ticket['id']}/qr.svg") as r:
        assert r.status == 200 and r.content_type == "image/svg+xml"
        assert (await r.text()).startswith("<svg")
    status, _ = await hall.call("GET", "/api/display/tickets/nope/qr.svg")
    assert status == 404


async def test_reasons_and_whoami(hall: Api) -> None:
    status, body = await hall.call("GET", "/api/evaluation-reasons")
    assert status == 200 and body["reasons"][0] == {"code": "E01", "label": "办事效率低，等候时间长"}
    assert [x["level"] for x in body["levels"]] == [5, 4, 3, 2, 1]
    status, me = await hall.call("GET", "/api/whoami", hall.tokens.clerk[2])
    assert (status, me) == (200, {"role": "clerk", "window": 2})
    status, _ = await hall.call("GET", "/api/whoami")
    assert status == 401
    status, _ = await hall.call("GET", "/api/whoami", "bogus")
    assert status == 401
    async with aiohttp.ClientSession() as s, s.get(hall.base + "/api/openapi.json") as r:
        paths = (await r.json())["paths"]
    assert "/api/display/hall" in paths
