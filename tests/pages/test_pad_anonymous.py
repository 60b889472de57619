"""The pad's 匿名评价: a citizen may rate without being named in the review report. The
choice is theirs each time (the next citizen starts named again), and it reaches the
evaluation through the pad's own POST."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.pages.conftest import Daemon
from tests.pages.test_morning import open_page
from tests.pages.test_pages_layout import post


async def serve_one(daemon: Daemon) -> dict[str, Any]:
    t = daemon.tokens
    assert t is not None
    ticket = await post(daemon, "/api/tickets", t.kiosk, {"category": "A"})
    await post(daemon, "/api/windows/3/open", t.clerk[3])
    await post(daemon, "/api/windows/3/call-next", t.clerk[3])
    await post(daemon, "/api/windows/3/complete", t.clerk[3])
    return ticket  # type: ignore[no-any-return]


async def evaluations(daemon: Daemon) -> list[dict[str, Any]]:
    t = daemon.tokens
    assert t is not None
    async with aiohttp.ClientSession() as s, s.get(
            daemon.base + "/api/evaluations",
            headers={"Authorization": f"Bearer {t.supervisor}"}) as r:
        return (await r.json())["evaluations"]  # type: ignore[no-any-return]


async def test_a_citizen_rates_anonymously_and_the_next_one_is_asked_again(
        browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    pad = await open_page(browser, daemon, f"/pad/3#token={t.pad[3]}", "pad")
    await pad.wait_for_selector("body[data-screen=idle]", timeout=5000)
    first = await serve_one(daemon)
    await pad.wait_for_selector("body[data-screen=rate]", timeout=3000)
    assert await pad.get_attribute("#anon", "aria-pressed") == "false"
    await pad.click("#anon")
    assert await pad.get_attribute("#anon", "aria-pressed") == "true"
    await pad.click("[data-level='4']")
    await pad.wait_for_selector("body[data-screen=thanks]", timeout=3000)
    second = await serve_one(daemon)
    await pad.wait_for_selector("body[data-screen=rate]", timeout=8000)
    assert await pad.get_attribute("#anon", "aria-pressed") == "false"
    await pad.click("[data-level='5']")
    await pad.wait_for_selector("body[data-screen=thanks]", timeout=3000)
    rated = {e["ticket_id"]: e for e in await evaluations(daemon)}
    assert (rated[first["id"]]["anonymous"], rated[first["id"]]["level"]) == (True, 4)
    assert (rated[second["id"]]["anonymous"], rated[second["id"]]["level"]) == (False, 5)


async def test_a_pad_that_was_away_offers_the_service_it_missed(browser: Any,
                                                                daemon: Daemon) -> None:
    """The service ended while the pad was not connected (here: before it was opened): on
    connecting it offers the rating, as the live event would have."""
    t = daemon.tokens
    assert t is not None
    ticket = await serve_one(daemon)
    pad = await open_page(browser, daemon, f"/pad/3#token={t.pad[3]}", "pad")
    await pad.wait_for_selector("body[data-screen=rate]", timeout=8000)
    assert ticket["number"] in await pad.text_content("#ask")
    await pad.click("[data-level='5']")
    await pad.wait_for_selector("body[data-screen=thanks]", timeout=3000)
    rated = {e["ticket_id"]: e for e in await evaluations(daemon)}
    assert rated[ticket["id"]]["level"] == 5
