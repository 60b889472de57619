"""Long texts at each page's device size: category names of 20-30 characters, a long window
name, long pause reasons and notices, in Chinese and English. Numbers first: the number
cells stay whole inside the screen and the names wrap in what is left; a pause reason is
shown whole; a notice stands still only when it fits and otherwise scrolls at a steady
reading speed; the language button is a touch target on the kiosk and the pad.
Screenshots go to test-artifacts/long-*.png."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from controller.config import HallConfig
from tests.pages.conftest import ARTIFACTS, DEVICES, Daemon, check_layout
from tests.pages.test_morning import open_page, text_soon, wait_online
from tests.pages.test_pages_layout import post

# Category names of 20, 30 and 28 characters; a window name of 26.
LONG_A = "不动产登记（转移、抵押、变更、注销登记）"
LONG_B = "社会保障卡补换领及医保异地就医备案（含灵活就业人员参保登记）"
LONG_D = "企业开办一件事联办（商事登记、刻章、税务、社保、公积金）"
LONG_WINDOW = "6号窗口 社会保障卡补换领及医保异地就医备案综合受理"
REASON = ("窗口工作人员正在参加社保医保业务系统升级培训，预计下午十四点三十分恢复办理，"
          "急办事项请到4号或5号窗口办理，给您带来不便敬请谅解")
REASON_MAX = ("因省社会保险信息系统切换，本窗口暂停办理社会保障卡补换领、医保异地就医备案、"
              "灵活就业人员参保登记等业务，预计今日下午十六点恢复办理。急需办理的群众请到"
              "4号、5号窗口或通过浙里办自助办理，咨询请到13号综合咨询窗口，由此给您带来的不便，"
              "敬请谅解。感谢您对政务服务工作的理解与支持，我们将尽快恢复正常办理！谢谢配合"
              "如有疑问请拨打政务服务热线12345咨询，或扫描窗口旁的二维码查看最新办理进度与通知公告。")


@pytest.fixture
def demo_cfg(demo_cfg: HallConfig) -> HallConfig:
    """The demo hall with long category names (A, B, D) and a long name for window 6."""
    cats = dict(demo_cfg.categories)
    for prefix, name in (("A", LONG_A), ("B", LONG_B), ("D", LONG_D)):
        cats[prefix] = dataclasses.replace(cats[prefix], name=name)
    windows = dict(demo_cfg.windows)
    windows[6] = dataclasses.replace(windows[6], name=LONG_WINDOW)
    return dataclasses.replace(demo_cfg, categories=cats, windows=windows)


def test_the_names_are_long() -> None:
    assert [len(x) for x in (LONG_A, LONG_B, LONG_D, LONG_WINDOW)] == [20, 30, 28, 26]
    assert 60 < len(REASON) < 80 and len(REASON_MAX) == 200  # 200: the daemon's limit


# Each matched element: inside the viewport and inside `within` (its panel or card, whose
# overflow is hidden or scrolls), and its text not cut (no ellipsis, no clipping).
CELLS_JS = """
([selector, within, vertical]) => {
  const vw = window.innerWidth, vh = window.innerHeight, out = [];
  const els = [...document.querySelectorAll(selector)];
  if (!els.length) out.push(`${selector}: nothing`);
  for (const el of els) {
    const r = el.getBoundingClientRect(), box = el.closest(within).getBoundingClientRect();
    const what = `${selector} "${el.textContent.trim().slice(0, 30)}"`;
    if (r.width < 1 || r.height < 1 || getComputedStyle(el).visibility !== "visible")
      out.push(`${what} not shown`);
    if (r.left < -1 || r.right > vw + 1 || (vertical && (r.top < -1 || r.bottom > vh + 1)))
      out.push(`${what} outside the ${vw}x${vh} screen: ${Math.round(r.left)}-${Math.round(r.right)}`);
    if (r.left < box.left - 1 || r.right > box.right + 1 ||
        (vertical && (r.top < box.top - 1 || r.bottom > box.bottom + 1)))
      out.push(`${what} outside its ${within}: ${[r.left, r.right, r.top, r.bottom].map(Math.round)}` +
               ` not in ${[box.left, box.right, box.top, box.bottom].map(Math.round)}`);
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
      out.push(`${what} cut (${el.scrollWidth}x${el.scrollHeight} > ${el.clientWidth}x${el.clientHeight})`);
  }
  return out;
}
"""


async def whole(page: Any, selector: str, within: str, vertical: bool = True) -> list[str]:
    problems: list[str] = await page.evaluate(CELLS_JS, [selector, within, vertical])
    return problems


async def to_english(page: Any) -> None:
    await page.click("#lang")
    await page.wait_for_function("document.documentElement.lang === 'en'")
    await page.wait_for_timeout(200)


async def test_hall_numbers_stay_on_the_wall(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    for _ in range(98):  # 81-119 waiting: the widest counts and estimates
        await post(daemon, "/api/tickets", t.kiosk, {"category": "D"})
    for prefix in "AAAABBBBB":
        await post(daemon, "/api/tickets", t.kiosk, {"category": prefix})
    # Six calls, all of long-named categories: windows 1, 2, 8 and 10 serve A and D,
    # 4 and 5 serve B.
    for n in (1, 2, 4, 5, 8, 10):
        await post(daemon, f"/api/windows/{n}/open", t.supervisor)
        await post(daemon, f"/api/windows/{n}/call-next", t.supervisor)

    hall = await open_page(browser, daemon, "/hall", "hall")
    await wait_online(hall)
    assert await hall.locator("#calls tr").count() == 6
    for lang in ("zh", "en"):
        if lang == "en":
            await to_english(hall)
        await hall.screenshot(path=str(ARTIFACTS / f"long-hall-{lang}.png"))
        problems = []
        for sel in ("#calls td.num", "#calls td.win", ".call-list th"):
            problems += await whole(hall, sel, "section.calls")
        for sel in ("#waiting td.count", "#waiting td.est", "section.waiting th"):
            problems += await whole(hall, sel, "section.waiting")
        # the names wrap in the width left, inside the panel, never past the numbers
        problems += await whole(hall, "#calls td:nth-child(3)", "section.calls")
        problems += await whole(hall, "#waiting td:first-child", "section.waiting")
        assert not problems, f"hall ({lang}): " + "; ".join(problems)
        count = await hall.text_content("#waiting tr[data-prefix=D] td.count")
        assert 81 <= int(count.rstrip("人")) <= 119, count
        await check_layout(hall, f"long-hall-{lang}", ["header", "section.calls", "section.waiting",
                                                       "footer"])


# The ticker: whether the notices stand still, whether they fit the bar, and how fast the
# first notice moves over 1.5 s (px/s).
TICKER_JS = """
async () => {
  const n = document.getElementById("notices"), bar = n.parentElement;
  const span = n.firstElementChild, last = n.lastElementChild;
  const x0 = span.getBoundingClientRect().left, t0 = performance.now();
  await new Promise(r => setTimeout(r, 1500));
  const x1 = span.getBoundingClientRect().left, t1 = performance.now();
  const right = last.getBoundingClientRect().right;
  return { still: n.classList.contains("still"), fits: right <= bar.getBoundingClientRect().right + 1,
           speed: (x0 - x1) * 1000 / (t1 - t0), text: n.textContent };
}
"""


async def ticker(page: Any, text: str) -> dict[str, Any]:
    await text_soon(page, "#notices", text[:40], 5000)
    await page.wait_for_timeout(300)
    state: dict[str, Any] = await page.evaluate(TICKER_JS)
    return state


async def test_hall_ticker_still_or_steady(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    hall = await open_page(browser, daemon, "/hall", "hall")
    await wait_online(hall)
    short = "今日下午14:00起二楼出入境窗口暂停办理，请合理安排时间"
    edge = ("今日下午十四点起二楼出入境窗口暂停办理护照及港澳台通行证业务，"
            "请各位前来办事的群众合理安排出行时间，不便之处敬请谅解")
    assert len(edge) == 58  # under the old 60-character rule, yet wider than the wall
    very_long = ("办理不动产登记请携带身份证原件及不动产权证书，" * 25)[:500]
    for lang in ("zh", "en"):
        if lang == "en":
            await to_english(hall)
        for text, expect_still in ((short, True), (edge, False), (very_long, False)):
            await post(daemon, "/api/notices", t.supervisor, {"text": text, "notice_id": "n1"})
            state = await ticker(hall, text)
            await hall.screenshot(path=str(ARTIFACTS / f"long-ticker-{len(text)}-{lang}.png"))
            where = f"{len(text)} characters ({lang})"
            if expect_still:
                assert state["still"] and state["fits"] and abs(state["speed"]) < 1, where
            else:
                assert not state["still"], f"{where}: stands still, cut at the right"
                assert 100 <= state["speed"] <= 180, f"{where}: {state['speed']:.0f} px/s"
    # no notices: the English welcome fits and stands still
    await post(daemon, "/api/notices/n1/withdraw", t.supervisor)
    state = await ticker(hall, "Welcome to")
    assert state["still"] and state["fits"], state


async def test_window_screen_shows_the_whole_pause_reason(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    for n, reason in ((6, REASON), (7, REASON_MAX)):
        await post(daemon, f"/api/windows/{n}/open", t.supervisor)
        await post(daemon, f"/api/windows/{n}/pause", t.supervisor, {"reason": reason})
    for n, reason in ((6, REASON), (7, REASON_MAX)):
        for size in (DEVICES["window"], (1024, 600), (1280, 720)):
            page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
            await page.goto(daemon.base + f"/window/{n}")
            await wait_online(page)
            for lang in ("zh", "en"):
                if lang == "en":
                    await to_english(page)
                await text_soon(page, "#line3", reason[-10:])
                name = f"long-window-{n}-{size[0]}x{size[1]}-{lang}"
                problems = await whole(page, "#line3", "main")
                assert not problems, f"{name}: " + "; ".join(problems)
                lines = await page.evaluate("""() => { const e = document.getElementById("line3");
                    return Math.round(e.getBoundingClientRect().height /
                                      parseFloat(getComputedStyle(e).lineHeight)); }""")
                if reason == REASON:
                    assert 2 <= lines <= 3, f"{name}: {lines} lines"
                await check_layout(page, name, [".wtop", "#line2", "#line3"])
            await page.close()


async def test_dashboard_numbers_beside_long_names(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    for prefix in "AAABBBDDDDEG":
        await post(daemon, "/api/tickets", t.kiosk, {"category": prefix})
    for n in (1, 4, 6, 8):
        await post(daemon, f"/api/windows/{n}/open", t.supervisor)
        await post(daemon, f"/api/windows/{n}/call-next", t.supervisor)
    await post(daemon, "/api/windows/6/complete", t.supervisor)
    await post(daemon, "/api/windows/6/pause", t.supervisor, {"reason": REASON})
    await post(daemon, "/api/windows/7/open", t.supervisor)
    await post(daemon, "/api/windows/7/pause", t.supervisor, {"reason": REASON_MAX})

    dash = await open_page(browser, daemon, f"/dashboard#token={t.supervisor}", "dashboard")
    await wait_online(dash)
    await text_soon(dash, "#windows", "暂停")
    for lang in ("zh", "en"):
        if lang == "en":
            await to_english(dash)
        problems = []
        # numbers: the card scrolls up and down, never sideways; the cells stay inside it
        for sel in ("#queues td.num", "#queues tr td:first-child",
                    "#windows td:nth-child(3)", "#windows td:nth-child(4)",
                    "#windows td:first-child", "#windows td:nth-child(2)",
                    ".grid > section th"):
            problems += await whole(dash, sel, ".grid > section", vertical=False)
        problems += await dash.evaluate("""() => [...document.querySelectorAll(".grid > section")]
            .filter(s => s.scrollWidth > s.clientWidth + 1 || s.getBoundingClientRect().right > innerWidth)
            .map(s => `${s.querySelector("h2").textContent} card scrolls sideways or past the screen`)""")
        assert not problems, f"dashboard ({lang}): " + "; ".join(problems)
        row = dash.locator("#windows tr[data-window='6']")
        assert REASON in await row.text_content()
        assert await dash.text_content("#windows tr[data-window='1'] td:nth-child(3)") not in ("", "—")
        await check_layout(dash, f"long-dashboard-{lang}", ["header", ".kpis", ".grid > section"])


async def test_language_button_is_a_touch_target(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    pages = {"kiosk": f"/kiosk#token={t.kiosk}", "pad": f"/pad/3#token={t.pad[3]}",
             "hall": "/hall", "window": "/window/6", "console": f"/console#token={t.clerk[3]}",
             "dashboard": f"/dashboard#token={t.supervisor}"}
    for device, path in pages.items():
        page = await open_page(browser, daemon, path, device)
        await wait_online(page)
        for lang in ("zh", "en"):
            if lang == "en":
                await to_english(page)
            box = await page.locator("#lang").bounding_box()
            assert box is not None
            if device in ("kiosk", "pad"):  # touch screens
                assert box["width"] >= 44 and box["height"] >= 44, f"{device} ({lang}): {box}"
            header = "header.wtop" if device == "window" else "header.topbar"
            await check_layout(page, f"long-lang-{device}-{lang}", [header])
            await check_layout(page, f"long-lang-{device}-{lang}", ["#lang", f"{header} h1"]
                               if device != "window" else ["#lang", "#wnum"])
            inside = await page.evaluate("""(h) => { const b = document.getElementById("lang")
                .getBoundingClientRect(), r = document.querySelector(h).getBoundingClientRect();
                return b.top >= r.top - 1 && b.bottom <= r.bottom + 1; }""", header)
            assert inside, f"{device} ({lang}): the language button sticks out of the header"
        await page.close()
