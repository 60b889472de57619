"""The kiosk's pickup (取件): a citizen whose promised case is ready types its case number and
gets a ticket for the unified pickup area (出件, 6.2.5), as printed tickets are; a case that
is not ready is refused on screen with the reason."""

from __future__ import annotations

from typing import Any

from tests.pages.conftest import Daemon
from tests.pages.test_morning import open_page, text_soon, wait_online
from tests.pages.test_pages_layout import post

ITEM = "330100-BDC-01-001"  # a promised case (承诺件, 5 working days) of category A
CASE = "330100202611270099"


async def serve_a_promised_case(daemon: Daemon) -> None:
    """The case's life up to ready for pickup, through the API as clerks and staff do it."""
    t = daemon.tokens
    assert t is not None
    ticket = await post(daemon, "/api/tickets", t.kiosk, {"item_code": ITEM})
    await post(daemon, "/api/windows/3/open", t.clerk[3])
    await post(daemon, "/api/windows/3/call-next", t.clerk[3])
    await post(daemon, "/api/cases", t.clerk[3], {"case_no": CASE, "ticket_id": ticket["id"]})
    await post(daemon, "/api/windows/3/complete", t.clerk[3], {"case_no": CASE})
    for action in ("circulate", "approve", "circulate"):
        await post(daemon, f"/api/cases/{CASE}/{action}", t.supervisor, {})


async def test_pickup_by_case_number(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    await serve_a_promised_case(daemon)
    kiosk = await open_page(browser, daemon, "/kiosk", "kiosk")
    await kiosk.wait_for_selector("#setup:not([hidden])")
    await kiosk.fill("#token", t.kiosk)
    await kiosk.click("#setup-form button")
    await wait_online(kiosk)

    await kiosk.click("#pickup-btn")  # not ready yet: refused, with the reason
    for key in CASE:
        await kiosk.click(f"#keypad [data-key='{key}']")
    await text_soon(kiosk, "#id-display", CASE)
    await kiosk.click("#checkin-go")
    await kiosk.wait_for_selector("#checkin-error:not(:empty)", timeout=3000)
    assert "取件取号失败" in await kiosk.text_content("#checkin-error")

    await post(daemon, f"/api/cases/{CASE}/ready", t.supervisor, {})
    for key in CASE:
        await kiosk.click(f"#keypad [data-key='{key}']")
    await kiosk.click("#checkin-go")
    await text_soon(kiosk, "#t-number", "H001", 3000)
    assert "出件" in await kiosk.text_content("#t-cat")
    await kiosk.screenshot(path="test-artifacts/kiosk-pickup.png")
