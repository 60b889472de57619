"""Each page at its device's size in its other states (sign-in, idle, closed, a busy wall,
appointment check-in, a low rating with reasons), with screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp

from tests.conftest import slot_holding_now
from tests.pages.conftest import DEVICES, Daemon, check_layout
from tests.pages.test_morning import open_page, text_soon, wait_online


async def post(daemon: Daemon, path: str, token: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as s, s.post(daemon.base + path, json=body or {},
                      headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status in (200, 201), await r.text()
        return await r.json()


async def test_busy_wall_window_states_and_sign_in(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    for prefix in "AABBBCDEFGH":
        await post(daemon, "/api/tickets", t.kiosk, {"category": prefix})
    for n in (1, 2, 4, 5, 8, 9, 11, 13, 15):
        await post(daemon, f"/api/windows/{n}/open", t.supervisor)
        await post(daemon, f"/api/windows/{n}/call-next", t.supervisor)
    await post(daemon, "/api/windows/6/open", t.supervisor)
    await post(daemon, "/api/windows/6/pause", t.supervisor, {"reason": "窗口人员临时离开，请稍候"})
    await post(daemon, "/api/notices", t.supervisor,
               {"text": "今日下午14:00起二楼出入境窗口暂停办理，请合理安排时间；办理不动产登记请携带身份证原件及不动产权证书"})

    hall = await open_page(browser, daemon, "/hall", "hall")
    await wait_online(hall)
    assert await hall.locator("#calls tr").count() == 6  # the six newest calls
    await check_layout(hall, "hall-busy", ["header", "section.calls", "section.waiting", "footer"])
    await check_layout(hall, "hall-busy-rows", ["#latest", "#calls tr", "header"])

    for number, name, expect in ((6, "window-paused-long", "暂停服务"), (16, "window-closed", "暂停服务"),
                                 (15, "window-serving-h", "H001")):
        page = await open_page(browser, daemon, f"/window/{number}", "window")
        await wait_online(page)
        await text_soon(page, "#line2", expect)
        await check_layout(page, name, [".wtop", "#line1", "#line2", "#line3"])
    await page.close()
    for size in ((1024, 600), (1280, 720)):  # other small screens
        page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
        await page.goto(daemon.base + "/window/6")
        await wait_online(page)
        await check_layout(page, f"window-{size[0]}x{size[1]}", [".wtop", "#line2", "#line3"])

    console = await open_page(browser, daemon, "/console", "console")
    await console.wait_for_selector("#signin:not([hidden])")
    await console.fill("#token", "not-a-token")
    await console.click("#signin-form button")
    await text_soon(console, "#signin-error", "令牌无效")
    await console.fill("#token", t.pad[3])
    await console.click("#signin-form button")
    await text_soon(console, "#signin-error", "不能用于本页面")
    await check_layout(console, "console-signin", ["header", "#signin"])
    await console.fill("#token", t.supervisor)  # supervisors pick a window
    await console.click("#signin-form button")
    await console.wait_for_selector("#window-pick:not([hidden])")
    await console.select_option("#window-pick", "6")
    await text_soon(console, "#win-state", "暂停服务")
    assert await console.is_enabled("[data-action=resume]")
    assert not await console.is_enabled("[data-action=call-next]")
    await check_layout(console, "console-supervisor", ["header", "section.current", "section.queue"])

    dash = await open_page(browser, daemon, f"/dashboard#token={t.supervisor}", "dashboard")
    await wait_online(dash)
    await text_soon(dash, "#k-open", "9 / 17")
    await check_layout(dash, "dashboard-busy", ["header", ".kpis", ".grid > section"])


async def test_kiosk_check_in_and_a_low_rating(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    # A slot of today's business day (ten minutes before the 03:00 reset, "in ten
    # minutes" would be tomorrow's, and checking in to it today is refused).
    start = dt.datetime.fromtimestamp(slot_holding_now(daemon.cfg),
                                      dt.timezone(dt.timedelta(hours=8)))
    await post(daemon, "/api/appointments", t.supervisor, {
        "category": "A", "identity": "11010519491231002X",
        "slot_start": start.isoformat(timespec="seconds"),
        "slot_end": (start + dt.timedelta(minutes=30)).isoformat(timespec="seconds")})

    kiosk = await open_page(browser, daemon, "/kiosk", "kiosk")
    await kiosk.wait_for_selector("#setup:not([hidden])")
    await kiosk.fill("#token", t.kiosk)
    await kiosk.click("#setup-form button")
    await wait_online(kiosk)
    await check_layout(kiosk, "kiosk-home", ["header", ".prompt", "#prio", ".cats", "#checkin-btn"])
    await kiosk.click("#checkin-btn")
    for key in "1101051949":
        await kiosk.click(f"#keypad [data-key='{key}']")
    # others can see the screen: the number is masked as it is typed, the last key shown
    await text_soon(kiosk, "#id-display", "110******9")
    for key in "1231002X":
        await kiosk.click(f"#keypad [data-key='{key}']")
    await text_soon(kiosk, "#id-display", "1101**********002X")
    await check_layout(kiosk, "kiosk-checkin", ["header", ".prompt", "#id-display", "#keypad", ".row2"])
    await kiosk.click("#checkin-go")
    await text_soon(kiosk, "#t-number", "A001", 2000)
    # the ID number is gone from the page once used
    assert "11010519491231002X" not in await kiosk.content()
    await kiosk.click("#done")
    await kiosk.click("[data-prio=green]")
    await kiosk.click(".cat[data-prefix=A]")
    await kiosk.wait_for_selector("body[data-screen=items], body[data-screen=ticket-view]")
    if await kiosk.get_attribute("body", "data-screen") == "items":
        await check_layout(kiosk, "kiosk-items", ["header", ".prompt", "#item-list", "#items .row2"])
        await kiosk.click("#items-any")
    await text_soon(kiosk, "#t-number", "A002")
    assert "1 人" in await kiosk.text_content("#t-ahead")  # behind the appointment

    pad = await open_page(browser, daemon, f"/pad/3#token={t.pad[3]}", "pad")
    await wait_online(pad)
    await check_layout(pad, "pad-idle", ["header", ".idle-title", ".idle-sub", "#idle-win"])
    await post(daemon, "/api/windows/3/open", t.clerk[3])
    await post(daemon, "/api/windows/3/call-next", t.clerk[3])
    await post(daemon, "/api/windows/3/complete", t.clerk[3])
    await pad.wait_for_selector("body[data-screen=rate]", timeout=2000)
    await pad.click("[data-level='1']")
    await pad.wait_for_selector("body[data-screen=reasons]")
    await pad.click("#reasons-go")  # no reason yet: asked for one
    await text_soon(pad, "#reasons-error", "请至少选择一个原因")
    await pad.click("[data-code=E01]")
    await pad.click("[data-code=E03]")
    await check_layout(pad, "pad-reasons", ["header", ".ask", "#reason-list", ".row2"])
    await pad.click("#reasons-go")
    await pad.wait_for_selector("body[data-screen=thanks]", timeout=2000)
    async with aiohttp.ClientSession() as s, s.get(daemon.base + "/api/evaluations",
                     headers={"Authorization": f"Bearer {t.supervisor}"}) as r:
        (rated,) = (await r.json())["evaluations"]
    assert (rated["number"], rated["level"], rated["reasons"]) == ("A001", 1, ["E01", "E03"])
    assert DEVICES["pad"] == (1280, 800)
