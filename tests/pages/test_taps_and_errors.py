"""What people do to the pages that the happy paths do not: a double tap at the kiosk, a
double click on 叫号, a slow press while the hall is busy, a number typed wrong, a kiosk
whose token was revoked. Each must do the one thing meant, in the person's language."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.pages.conftest import Daemon
from tests.pages.test_morning import open_page, text_soon, wait_online
from tests.pages.test_pages_layout import post


async def events_of(daemon: Daemon, kind: str) -> list[dict[str, Any]]:
    t = daemon.tokens
    assert t is not None
    async with aiohttp.ClientSession() as s, s.get(
            daemon.base + "/api/events?after=0&limit=1000",
            headers={"Authorization": f"Bearer {t.supervisor}"}) as r:
        return [e for e in (await r.json())["events"] if e["type"] == kind]


async def kiosk_page(browser: Any, daemon: Daemon, token: str) -> Any:
    kiosk = await open_page(browser, daemon, "/kiosk", "kiosk")
    await kiosk.wait_for_selector("#setup:not([hidden])")
    await kiosk.fill("#token", token)
    await kiosk.click("#setup-form button")
    await wait_online(kiosk)
    return kiosk


async def test_a_double_tap_at_the_kiosk_is_one_ticket(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    kiosk = await kiosk_page(browser, daemon, t.kiosk)
    await kiosk.dblclick(".cat[data-prefix=H]")  # H: no items, a tap issues at once
    await kiosk.wait_for_selector("body[data-screen=ticket-view]", timeout=3000)
    await asyncio.sleep(0.5)
    assert len(await events_of(daemon, "ticket.issued")) == 1


async def test_a_double_click_on_call_next_calls_one_citizen(browser: Any,
                                                             daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    first = await post(daemon, "/api/tickets", t.kiosk, {"category": "A"})
    await post(daemon, "/api/tickets", t.kiosk, {"category": "A"})
    await post(daemon, "/api/windows/3/open", t.clerk[3])
    console = await open_page(browser, daemon, "/console", "console")
    await console.wait_for_selector("#signin:not([hidden])")
    await console.fill("#token", t.clerk[3])
    await console.click("#signin-form button")
    await wait_online(console)
    await console.dblclick("[data-action='call-next']")
    await text_soon(console, "#message", first["number"], 3000)
    await asyncio.sleep(0.5)
    called = await events_of(daemon, "ticket.called")
    assert [e["data"]["ticket_id"] for e in called] == [first["id"]]
    assert not await events_of(daemon, "ticket.completed")  # nobody completed unserved


async def test_the_kiosk_buttons_stay_put_while_the_hall_is_busy(browser: Any,
                                                                 daemon: Daemon) -> None:
    """A citizen's slow press must not be lost to a rebuild of the buttons on every event
    in the hall: the same button element, its waiting count updated in place."""
    t = daemon.tokens
    assert t is not None
    kiosk = await kiosk_page(browser, daemon, t.kiosk)
    button = await kiosk.query_selector(".cat[data-prefix=B]")
    for _ in range(3):
        await post(daemon, "/api/tickets", t.kiosk, {"category": "B"})
    await kiosk.wait_for_function(
        "() => document.querySelector('.cat[data-prefix=B] .meta').textContent.includes('3')",
        timeout=5000)
    assert await button.evaluate("b => b.isConnected")


async def test_a_refusal_is_said_in_the_persons_language(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    kiosk = await kiosk_page(browser, daemon, t.kiosk)
    await kiosk.click("#checkin-btn")
    await kiosk.click("#checkin-go")  # nothing typed
    await text_soon(kiosk, "#checkin-error", "请先输入号码")
    for key in "11010519491231002":  # one digit short of an ID number
        await kiosk.click(f"#keypad [data-key='{key}']")
    await kiosk.click("#checkin-go")
    await text_soon(kiosk, "#checkin-error", "号码有误", 3000)
    text = await kiosk.text_content("#checkin-error")
    assert "identity must be" not in text  # not the daemon's English detail


async def test_a_kiosk_whose_token_was_revoked_says_so(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    kiosk = await kiosk_page(browser, daemon, t.kiosk)
    from controller.store.tokens import list_tokens, revoke_token

    kiosk_id = next(row[0] for row in list_tokens(daemon.data_dir) if row[1] == "kiosk")
    assert revoke_token(daemon.data_dir, kiosk_id)
    for _ in range(30):  # the daemon refuses a revoked token within seconds
        if await kiosk.evaluate("document.body.dataset.screen") == "setup":
            break
        if await kiosk.evaluate("document.body.dataset.screen") == "ticket-view":
            await kiosk.click("#done")
        await kiosk.click(".cat[data-prefix=H]")
        await asyncio.sleep(0.5)
    await kiosk.wait_for_selector("body[data-screen=setup]", timeout=1000)
    await text_soon(kiosk, "#setup-error", "令牌无效", 3000)
