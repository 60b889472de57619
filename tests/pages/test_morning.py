"""A whole morning in the browser: kiosk -> console -> hall wall and window screen ->
recall -> transfer -> complete -> pad rating -> dashboard; then the daemon restarts and
every page says it lost the connection, keeps what it showed, and comes back by itself."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from tests.pages.conftest import DEVICES, Daemon, check_layout

pytest_plugins: list[str] = []


async def open_page(browser: Any, daemon: Daemon, path: str, device: str) -> Any:
    w, h = DEVICES[device]
    context = await browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN",
                                        timezone_id="Asia/Shanghai")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(daemon.base + path)
    return page


async def wait_online(page: Any, timeout: float = 10_000) -> None:
    await page.wait_for_selector("body[data-conn=online]", timeout=timeout)


async def text_soon(page: Any, selector: str, expected: str, timeout: float = 1000) -> None:
    """The element shows `expected` within `timeout` ms (polled in the page)."""
    await page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.textContent.includes(t); }",
        arg=[selector, expected], timeout=timeout)


async def take_ticket(kiosk: Any, prefix: str, pick_item: bool = False) -> None:
    """Touch a category; where the catalog lists items for it, pick the first one (or
    "other matters") as a citizen would."""
    await kiosk.click(f".cat[data-prefix={prefix}]")
    await kiosk.wait_for_selector("body[data-screen=items], body[data-screen=ticket-view]")
    if await kiosk.get_attribute("body", "data-screen") == "items":
        await kiosk.click("#item-list .item" if pick_item else "#items-any")


async def test_a_whole_morning(browser: Any, daemon: Daemon) -> None:
    tokens = daemon.tokens
    assert tokens is not None
    kiosk = await open_page(browser, daemon, f"/kiosk#token={tokens.kiosk}", "kiosk")
    console = await open_page(browser, daemon, f"/console#token={tokens.clerk[3]}", "console")
    hall = await open_page(browser, daemon, "/hall", "hall")
    screen = await open_page(browser, daemon, "/window/3", "window")
    pad = await open_page(browser, daemon, f"/pad/3#token={tokens.pad[3]}", "pad")
    dash = await open_page(browser, daemon, f"/dashboard#token={tokens.supervisor}", "dashboard")
    pages = [kiosk, console, hall, screen, pad, dash]
    for p in pages:
        await wait_online(p)

    # the hall wall's one-time sound step, remembered in localStorage
    assert await hall.get_attribute("#sound", "data-state") == "off"
    await hall.click("#sound")
    assert await hall.get_attribute("#sound", "data-state") == "on"
    assert await hall.evaluate("localStorage.getItem('hc.sound')") == "on"

    # 1. the clerk opens window 3; its screen greets
    await console.click("[data-action=open]")
    await text_soon(console, "#win-state", "服务中")
    await text_soon(screen, "#line2", "热情为您服务")

    # 2. a citizen takes a ticket for 不动产登记 at the kiosk
    await take_ticket(kiosk, "A", pick_item=True)
    await text_soon(kiosk, "#t-number", "A001")
    assert "您前面还有 0 人在等待" in await kiosk.text_content("#t-ahead")
    await kiosk.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
    await check_layout(kiosk, "kiosk-ticket", ["header", ".ticket", ".row2"])
    await text_soon(hall, "tr[data-prefix=A] td.count", "1人")

    # 3. called from the console: on the wall and above the window within a second
    await console.click("[data-action=call-next]")
    await text_soon(console, "#current-number", "A001")
    started = time.monotonic()
    await text_soon(hall, "#latest", "请A001号到3号窗口办理")
    await text_soon(screen, "#line2", "A001")
    assert time.monotonic() - started < 1.0
    await hall.wait_for_function(
        "document.body.dataset.lastSpoken === '请A零零一号到三号窗口办理'", timeout=2000)

    # 4. recalled: the wall says so, and speaks it again
    await console.click("[data-action=recall]")
    await text_soon(hall, "#latest", "再次呼叫，请A001号到3号窗口办理")
    await hall.wait_for_function(
        "document.body.dataset.lastSpoken === '再次呼叫，请A零零一号到三号窗口办理'", timeout=2000)

    # 5. transferred to 税务 (E) with a reason: it leaves the wall and the window
    await console.click("[data-panel=transfer]")
    await console.select_option("#to-category", "E")
    await console.fill("#transfer-reason", "需先办理税务")
    await console.click("#panel-transfer button[type=submit]")
    await text_soon(console, "#current-number", "—")
    await text_soon(hall, "#latest", "请取号等候叫号")
    await text_soon(screen, "#line2", "热情为您服务")
    await text_soon(console, "#queue .cat[data-prefix=E]", "A001")

    # 6. window 3 also serves E: called again, then completed with its case number
    await console.click("[data-action=call-next]")
    await text_soon(screen, "#line2", "A001")
    await check_layout(console, "console", ["header", "section.current", "section.queue"])
    await check_layout(screen, "window-serving", [".wtop", "#line1", "#line2", "#line3"])
    await check_layout(hall, "hall", ["header", "section.calls", "section.waiting", "footer"])
    await check_layout(hall, "hall-latest", ["#latest", "#calls tr", "#waiting tr"])
    await console.click("[data-panel=complete]")
    await console.fill("#case-no", "330100202611270001")
    # for a company: a mistyped credit code is refused, with the reason, and kept to fix
    await console.fill("#credit-code", "9133010071610585 2e")
    await console.click("#panel-complete button[type=submit]")
    await text_soon(console, "#message", "校验")
    await check_layout(console, "console-complete", ["#panel-complete label", "#message"])
    assert await console.is_visible("#panel-complete")
    assert await console.text_content("#current-number") == "A001"
    await console.fill("#credit-code", "9133010071610585 2f")
    await console.click("#panel-complete button[type=submit]")
    await text_soon(console, "#current-number", "—")

    # 7. the pad of window 3 asks for a rating; the citizen gives 非常满意
    await pad.wait_for_selector("body[data-screen=rate]", timeout=2000)
    assert "A001" in await pad.text_content("#ask")
    await check_layout(pad, "pad-rate", ["header", "#ask", "#levels", "#anon", ".voluntary"])
    await pad.click("[data-level='5']")
    await pad.wait_for_selector("body[data-screen=thanks]", timeout=2000)

    # 8. the dashboard counts it
    await text_soon(dash, "#k-served", "1", 2000)
    await text_soon(dash, "#k-evals", "1", 2000)
    await check_layout(dash, "dashboard", ["header", ".kpis", ".grid > section"])
    async with aiohttp.ClientSession() as s, s.get(daemon.base + "/api/evaluations",
                     headers={"Authorization": f"Bearer {tokens.supervisor}"}) as r:
        rated = (await r.json())["evaluations"]
    assert [(e["number"], e["level"], e["channel"]) for e in rated] == [("A001", 5, "pad")]
    async with aiohttp.ClientSession() as s, s.get(
            f"{daemon.base}/api/tickets/{rated[0]['ticket_id']}",
            headers={"Authorization": f"Bearer {tokens.supervisor}"}) as r:
        assert (await r.json())["credit_code"] == "91330100716105852F"

    # 9. a paused window says so, with its reason
    await console.click("[data-panel=pause]")
    await console.fill("#pause-reason", "系统维护")
    await console.click("#panel-pause button[type=submit]")
    await text_soon(screen, "#line2", "暂停服务")
    await text_soon(screen, "#line3", "系统维护")
    await check_layout(screen, "window-paused", [".wtop", "#line2", "#line3"])
    await console.click("[data-action=resume]")
    await text_soon(screen, "#line2", "热情为您服务")

    # 10. a second ticket waits; then the daemon goes away
    await kiosk.click("#done")
    await take_ticket(kiosk, "A")
    await text_soon(kiosk, "#t-number", "A002")
    await text_soon(hall, "tr[data-prefix=A] td.count", "1人")
    await daemon.stop()
    for p in pages:
        await p.wait_for_selector("body[data-conn=offline]", timeout=8000)
        assert await p.is_visible("#conn")
    # what the wall showed is still there, under the banner: never an empty queue
    assert "1人" in await hall.text_content("tr[data-prefix=A] td.count")
    assert "连接中断" in await hall.text_content("#conn")
    await check_layout(hall, "hall-offline", ["#conn", "section.calls", "section.waiting"])

    # 11. back on the same port and data: every page reconnects and re-reads everything
    await daemon.start()
    for p in pages:
        await wait_online(p, 12_000)
    async with aiohttp.ClientSession() as s, s.post(daemon.base + "/api/windows/3/call-next",
                      headers={"Authorization": f"Bearer {tokens.clerk[3]}"}) as r:
        assert r.status == 200, await r.text()
    await text_soon(hall, "#latest", "请A002号到3号窗口办理", 2000)
    await text_soon(screen, "#line2", "A002", 2000)
    await text_soon(console, "#current-number", "A002", 2000)

    # 12. the English switch
    await hall.click("#lang")
    await text_soon(hall, "section.calls h2", "Now calling")
    await text_soon(hall, "#latest", "Number A002, please go to window 3")
    await check_layout(hall, "hall-english", ["header", "section.calls", "section.waiting", "footer"])
    await check_layout(hall, "hall-english-latest", ["#latest", "#calls tr"])

    for p in pages:
        assert p.errors == [], p.errors
