"""The dashboard's panels and charts in the browser (issues 6 and 7): a day's activity made
through the API (tickets, calls, completions, a rating of 2 with a reason from the pad,
a congestion alert, a transfer loop, a complaint, a ready case), then /dashboard signed
in by hand: the alert with its suggestion is acknowledged and resolved, the follow-up is
taken through its four steps from the page, and the four charts are drawn with one bar or
point per half hour (or level, or post), inside their cards at 1366x768 and 1920x1080.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from controller.config import HallConfig
from tests.pages.conftest import Daemon, check_layout
from tests.pages.test_morning import open_page, text_soon, wait_online

# Every drawn thing of a chart inside its SVG, the SVG inside its card, the card inside
# the page's width: a label that runs off the edge is reported with its text.
CHART_BOUNDS_JS = """
() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg[data-chart]")) {
    const name = svg.dataset.chart, r = svg.getBoundingClientRect();
    const card = svg.closest("section").getBoundingClientRect();
    if (r.left < card.left - 1 || r.right > card.right + 1) out.push(`${name}: svg wider than its card`);
    if (card.right > window.innerWidth + 1) out.push(`${name}: card past the right edge`);
    for (const el of svg.querySelectorAll("text, rect, circle, path")) {
      const b = el.getBoundingClientRect();
      if (b.width === 0 && b.height === 0) continue;
      if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
        out.push(`${name}: ${el.tagName} ${el.textContent.slice(0, 20)} outside the chart`);
    }
  }
  return out;
}
"""


class Client:
    """The hall's API over HTTP, as the devices and clerks would call it."""

    def __init__(self, daemon: Daemon, session: aiohttp.ClientSession) -> None:
        self.daemon, self.session = daemon, session

    async def call(self, method: str, path: str, token: str, body: Any = None,
                   expect: tuple[int, ...] = (200, 201)) -> Any:
        async with self.session.request(method, self.daemon.base + path, json=body,
                                        headers={"Authorization": f"Bearer {token}"}) as r:
            answer = await r.json(content_type=None)
            assert r.status in expect, (path, r.status, answer)
            return answer


async def make_a_day(api: Client, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    sup = t.supervisor
    # Six passport tickets with both passport windows closed: the arrivals rule fires at
    # the next Tick (every 5 s), with a suggestion to open windows 11 and 12.
    for prefix in "FFFFFF" + "AAABBBCEGH":
        await api.call("POST", "/api/tickets", t.kiosk, {"category": prefix})
    await api.call("POST", "/api/windows/3/open", t.clerk[3])
    await api.call("POST", "/api/windows/3/call-next", t.clerk[3])
    await api.call("POST", "/api/windows/3/complete", t.clerk[3], {"case_no": "DEMO-0001"})
    await api.call("POST", "/api/evaluations", t.pad[3],
                   {"level": 2, "reasons": ["E01", "E03"], "channel": "pad"})
    await api.call("POST", "/api/cases", t.clerk[3], {"case_no": "DEMO-0001",
                                                      "item_code": "330100-BDC-01-001"})
    for step in ("approve", "ready"):  # a promised case on the pickup shelf
        await api.call("POST", f"/api/cases/DEMO-0001/{step}", sup)
    await api.call("POST", "/api/windows/3/call-next", t.clerk[3])
    await api.call("POST", "/api/windows/3/complete", t.clerk[3])
    # A ticket sent back and forth between windows 4 and 5: a transfer loop flag.
    for n in (4, 5, 13, 15):
        await api.call("POST", f"/api/windows/{n}/open", sup)
    await api.call("POST", "/api/windows/4/call-next", sup)
    for here, there in ((4, 5), (5, 4), (4, 5)):
        await api.call("POST", f"/api/windows/{here}/transfer", sup,
                       {"to_window": there, "reason": "材料不符，转窗口"})
        await api.call("POST", f"/api/windows/{there}/call-next", sup)
    await api.call("POST", "/api/windows/5/complete", sup)
    for n in (13, 15):
        await api.call("POST", f"/api/windows/{n}/call-next", sup)
        await api.call("POST", f"/api/windows/{n}/complete", sup)
    await api.call("POST", "/api/complaints", sup, {
        "channel": "phone", "summary": "反映不动产登记窗口等候时间过长", "window": 3})


async def chart_counts(page: Any) -> dict[str, int]:
    counts: dict[str, int] = await page.evaluate("""() => ({
      bars: document.querySelectorAll("svg[data-chart=arrivals] rect.bar").length,
      cap: document.querySelectorAll("svg[data-chart=arrivals] path.cap").length,
      mean: document.querySelectorAll("svg[data-chart=waits] circle.pt-mean").length,
      p90: document.querySelectorAll("svg[data-chart=waits] circle.pt-p90").length,
      levels: document.querySelectorAll("svg[data-chart=evals] rect.bar").length,
      rec: document.querySelectorAll("svg[data-chart=staffing] rect.bar-rec").length,
      open: document.querySelectorAll("svg[data-chart=staffing] rect.bar-open").length,
    })""")
    return counts


async def check_charts(page: Any, name: str) -> None:
    problems = await page.evaluate(CHART_BOUNDS_JS)
    assert not problems, f"{name}: " + "; ".join(problems)
    await page.evaluate("document.getElementById('charts').scrollIntoView()")
    await check_layout(page, name, [".charts > section"])


async def test_dashboard_panels_and_charts(browser: Any, daemon: Daemon) -> None:
    t = daemon.tokens
    assert t is not None
    async with aiohttp.ClientSession() as session:
        api = Client(daemon, session)
        await make_a_day(api, daemon)

        dash = await open_page(browser, daemon, "/dashboard", "dashboard")
        await dash.wait_for_selector("#signin:not([hidden])")
        await dash.fill("#token", t.supervisor)
        await dash.click("#signin-form button")
        await wait_online(dash)

        # The follow-up of the rating of 2, with the reasons' labels and its four steps.
        fu = dash.locator("[data-followup]")
        await fu.wait_for(timeout=2000)
        await text_soon(dash, "[data-followup] .i-sub", "办事效率低")
        assert await fu.locator("ol.steps li").count() == 4
        await text_soon(dash, "#c-ready", "1")
        await text_soon(dash, "#c-complaints", "1")
        await text_soon(dash, "#flags", "反复转移")
        # The congestion alert comes over the stream at the next Tick.
        await dash.wait_for_selector("[data-alert]", timeout=8000)
        await text_soon(dash, "[data-alert] .suggestion", "建议开放")
        assert "出入境" in await dash.text_content("[data-alert] .i-title")

        # Charts: one bar per half hour, a mean and a p90 point per half hour with calls,
        # five levels, seven Table 1 posts.
        flow = await api.call("GET", "/api/flow", t.supervisor)
        staffing = await api.call("GET", "/api/staffing", t.supervisor)
        await dash.wait_for_selector("svg[data-chart=staffing]")
        counts = await chart_counts(dash)
        with_waits = sum(1 for s in flow["slots"] if s["wait_mean_min"] is not None)
        assert counts == {"bars": len(flow["slots"]), "cap": 1, "mean": with_waits,
                          "p90": with_waits, "levels": 5, "rec": 7,
                          "open": sum(1 for p in staffing["now"]["posts"] if p["open"] is not None)}
        assert "1 · 100%" in await dash.text_content("svg[data-chart=evals] text.value[data-level='2']")
        # The capacity drawn is the API's (controller/core/flow.py), slot by slot.
        basis = flow["capacity_basis_min"]
        assert basis is not None
        tips = await dash.evaluate("""() => [...document.querySelectorAll(
            "svg[data-chart=arrivals] rect.bar title")].map(t => t.textContent)""")
        for tip, slot in zip(tips, flow["slots"], strict=True):
            assert f"接待能力 {slot['capacity']:g}" in tip, (tip, slot["capacity"])
        assert f"平均办理 {basis:g} 分钟" in await dash.text_content("#charts")
        await check_layout(dash, "dashboard-panels-top", ["header", ".kpis", ".grid > section"])
        await dash.evaluate("document.getElementById('panels').scrollIntoView()")
        await check_layout(dash, "dashboard-panels", [".panels > section"])
        await check_charts(dash, "dashboard-charts-1366")

        # Acknowledge, then resolve the alert from the page.
        await dash.click("[data-alert] [data-act=ack]")
        await text_soon(dash, "[data-alert] .badge", "已确认")
        await dash.click("[data-alert] [data-act=resolve]")
        await dash.wait_for_selector("[data-alert]", state="detached", timeout=2000)

        # The follow-up through verify -> rectify -> revisit -> close; a note is required.
        await dash.click("[data-followup] button[data-step=verify]")
        await text_soon(dash, "[data-followup] .error", "请填写处理说明")
        notes = {"verify": "已调阅录像，核实等候过长", "rectify": "增开午间窗口",
                 "revisit": "电话回访，群众表示理解", "close": "办结"}
        for step, note in notes.items():
            await dash.fill(f"[data-followup] input.note[data-for={step}]", note)
            await dash.click(f"[data-followup] button[data-step={step}]")
            if step != "close":
                await dash.wait_for_selector(f"[data-followup] li.done[data-step={step}]", timeout=2000)
        await dash.wait_for_selector("[data-followup]", state="detached", timeout=2000)
        await text_soon(dash, "#followups-closed", "今日已办结 1 件")
        (closed,) = (await api.call("GET", "/api/follow-ups?status=closed", t.supervisor))["follow_ups"]
        assert [s["step"] for s in closed["steps"]] == list(notes)
        assert closed["steps"][0]["note"] == notes["verify"]
        # The complaint is assigned from the page; its next action is then "resolve".
        await dash.fill("[data-complaint] input.note[data-for=assign]", "窗口科 王科长")
        await dash.click("[data-complaint] button[data-step=assign]")
        await dash.wait_for_selector("[data-complaint] input.note[data-for=resolve]", timeout=2000)
        await text_soon(dash, "[data-complaint] .badge", "处理中")
        # ... and a second one is registered there (a summary is required).
        await dash.click("#complaint-new summary")
        await dash.click("#complaint-form button")
        await text_soon(dash, "#cp-error", "请填写投诉内容")
        await dash.select_option("#cp-channel", "wechat")
        await dash.fill("#cp-window", "5")
        await dash.fill("#cp-summary", "微信留言：社保窗口材料要求说明不清")
        await dash.click("#complaint-form button")
        await text_soon(dash, "#c-complaints", "2", 2000)
        assert await dash.locator("[data-complaint]").count() == 2
        await text_soon(dash, "#complaints", "微信 · 5号窗口")
        await dash.evaluate("document.getElementById('panels').scrollIntoView()")
        await check_layout(dash, "dashboard-panels-done", [".panels > section"])

        # The daemon restarts; what changed while the page was away shows after it
        # reconnects (it reads everything again on every connect).
        first = (await api.call("GET", "/api/complaints?status=open", t.supervisor))["complaints"][0]
        await daemon.stop()
        await dash.wait_for_selector("body[data-conn=offline]", timeout=8000)
        await daemon.start()
        await api.call("POST", f"/api/complaints/{first['id']}/resolve", t.supervisor,
                       {"result": "已增开窗口并向群众说明"})
        await wait_online(dash, 12_000)
        await text_soon(dash, f"[data-complaint='{first['id']}'] .badge", "待办结", 3000)
        await dash.wait_for_selector("[data-complaint] input.note[data-for=close]")
        await dash.wait_for_selector("svg[data-chart=staffing]")

        # English, then the large screen.
        await dash.click("#lang")
        await text_soon(dash, "svg[data-chart=staffing]", "Intake")
        await text_soon(dash, "#p-followups h2", "Bad-rating follow-ups")
        await check_charts(dash, "dashboard-charts-1366-en")
        await dash.evaluate("document.getElementById('panels').scrollIntoView()")
        await check_layout(dash, "dashboard-panels-en", [".panels > section"])
        big = await browser.new_page(viewport={"width": 1920, "height": 1080})  # Chinese again
        await big.goto(daemon.base + f"/dashboard#token={t.supervisor}")
        await wait_online(big)
        await big.wait_for_selector("svg[data-chart=staffing]")
        assert await chart_counts(big) == counts
        await check_layout(big, "dashboard-1920", ["header", ".kpis", ".grid > section"])
        await check_charts(big, "dashboard-charts-1920")
        assert not dash.errors, dash.errors


async def test_a_link_that_is_down_shows_why(browser: Any, tmp_path: Path,
                                             demo_cfg: HallConfig) -> None:
    """A supervisor sees on the dashboard why the cloud link is down (here: no broker where
    the hall file points), not only that it is; and a review link with nothing sent yet is
    idle, not down."""
    import dataclasses

    from tests.conftest import free_port, make_tokens

    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, mqtt_url=f"mqtt://127.0.0.1:{free_port()}",
        evaluation_url=f"http://127.0.0.1:{free_port()}/evaluations"))
    d = Daemon(cfg, tmp_path / "data")
    d.tokens = make_tokens(d.data_dir)
    await d.start()
    try:
        dash = await open_page(browser, d, "/dashboard", "dashboard")
        await dash.wait_for_selector("#signin:not([hidden])")
        await dash.fill("#token", d.tokens.supervisor)
        await dash.click("#signin-form button")
        await wait_online(dash)
        row = dash.locator("#sync tr[data-link=mqtt]")
        await row.locator(".link-error").wait_for(timeout=10_000)
        assert "Connection refused" in (await row.locator(".link-error").text_content() or "")
        assert await row.get_attribute("class") == "warn"
        # The review link has had nothing to send: not known to be down.
        review = dash.locator("#sync tr[data-link=haochaping]")
        assert "待发送时连接" in (await review.text_content() or "")
        assert await review.get_attribute("class") != "warn"
    finally:
        await d.stop()
