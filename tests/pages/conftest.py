"""Browser tests: Debian's chromium, headless, driven by Playwright for Python.

`playwright install` cannot download browsers here, so the system chromium is launched by
path (scripts/bootstrap installs it). The daemon runs in this event loop and can be
stopped and started again on the same port and data directory.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.config import HallConfig
from controller.daemon.run import serve
from tests.conftest import REPO, Tokens, free_port, make_tokens, wait_healthy

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"

# The device each page is made for: (width, height).
DEVICES = {
    "hall": (1920, 1080),  # the hall TV
    "window": (800, 480),  # the small screen above a window
    "console": (1366, 768),  # a clerk's laptop
    "kiosk": (1080, 1920),  # portrait touch screen
    "pad": (1280, 800),  # 10-inch tablet
    "dashboard": (1366, 768),  # a supervisor's laptop
}


@dataclass
class Daemon:
    """The real daemon in this event loop, restartable on the same port and data dir."""

    cfg: HallConfig
    data_dir: Path
    port: int = field(default_factory=free_port)
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event | None = None
    tokens: Tokens | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(
            serve(self.cfg, self.data_dir, f"127.0.0.1:{self.port}", self.stop_event))
        await wait_healthy(self.base)

    async def stop(self) -> None:
        assert self.stop_event is not None and self.task is not None
        self.stop_event.set()
        await asyncio.wait_for(self.task, 20)
        self.task = None


@pytest.fixture
async def daemon(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[Daemon]:
    d = Daemon(demo_cfg, tmp_path / "data")
    d.tokens = make_tokens(d.data_dir, clerk_windows=(3,))
    await d.start()
    try:
        yield d
    finally:
        if d.task is not None:
            await d.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/bootstrap installs it)")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


LAYOUT_JS = """
(selectors) => {
  const vw = window.innerWidth, vh = window.innerHeight, out = [];
  const rects = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;  // hidden
      rects.push([sel, r]);
      if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1)
        out.push(`${sel} outside the ${vw}x${vh} viewport: ${JSON.stringify(r)}`);
      if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("data-scrolls"))
        out.push(`${sel} text cut off (${el.scrollWidth} > ${el.clientWidth}): ${el.textContent.slice(0, 40)}`);
    }
  }
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
    const [a, ra] = rects[i], [b, rb] = rects[j];
    const overlap = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left) > 1 &&
                    Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top) > 1;
    if (overlap) out.push(`${a} overlaps ${b}`);
  }
  if (document.documentElement.scrollWidth > vw + 1) out.push(`page scrolls sideways (${document.documentElement.scrollWidth} > ${vw})`);
  return out;
}
"""


async def check_layout(page: Any, name: str, selectors: list[str]) -> None:
    """Key elements inside the viewport, not cut off, not overlapping; and a screenshot."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    problems = await page.evaluate(LAYOUT_JS, selectors)
    assert not problems, f"{name}: " + "; ".join(problems)
