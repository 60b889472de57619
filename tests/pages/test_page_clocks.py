"""The pages' clocks show the hall's time (Asia/Shanghai in the demo hall), whatever zone
the display's computer is set to: a kiosk or a dashboard PC left on UTC or a vendor's
default zone must not tell citizens and supervisors another time than the hall wall."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from tests.pages.conftest import DEVICES, Daemon

HALL_ZONE = ZoneInfo("Asia/Shanghai")


async def open_in_zone(browser: Any, daemon: Daemon, path: str, device: str) -> Any:
    w, h = DEVICES[device]
    context = await browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN",
                                        timezone_id="America/New_York")
    page = await context.new_page()
    await page.goto(daemon.base + path)
    return page


async def shows_hall_time(page: Any) -> None:
    """#clock reads the hall's date, hour and minute (now, or a minute ago at a turn)."""
    now = dt.datetime.now(HALL_ZONE)
    expected = [(now - dt.timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M") for m in (0, 1)]
    await page.wait_for_function(
        "(want) => { const c = document.querySelector('#clock');"
        " return c && want.some(w => c.textContent.startsWith(w)); }",
        arg=expected, timeout=5000)


async def test_kiosk_dashboard_and_hall_wall_show_the_halls_time(browser: Any,
                                                                 daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    kiosk = await open_in_zone(browser, daemon, "/kiosk", "kiosk")
    await kiosk.wait_for_selector("#setup:not([hidden])")
    await kiosk.fill("#token", t.kiosk)
    await kiosk.click("#setup-form button")
    await shows_hall_time(kiosk)
    dash = await open_in_zone(browser, daemon, "/dashboard", "dashboard")
    await dash.wait_for_selector("#signin:not([hidden])")
    await dash.fill("#token", t.supervisor)
    await dash.click("#signin-form button")
    await shows_hall_time(dash)
    wall = await open_in_zone(browser, daemon, "/hall", "hall")
    await shows_hall_time(wall)
