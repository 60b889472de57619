"""API over real HTTP: many requests at the same instant.

Windows calling together never get the same ticket: on the demo hall (windows 1, 2, 3, 8
and 10 share categories A and D), and on a variant of it where all 17 windows serve
category G, with fewer tickets than windows, over several rounds. Concurrent issues get
distinct, consecutive numbers.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import DEFAULT_CONFIG, load_config
from tests.conftest import Api, make_tokens, running_hall

ALL_WINDOWS = list(range(1, 18))


def everyone_serves_g(path: Path) -> Path:
    """The demo hall, except that every window also serves G (综合咨询)."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")

    def add_g(m: re.Match[str]) -> str:
        inner = m.group(1)
        return m.group(0) if re.search(r"\bG\s*=", inner) else f"categories = {{ G = 1, {inner} }}"

    text, n = re.subn(r"^categories = \{ (.*) \}$", add_g, text, flags=re.M)
    assert n == 17
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def wide_hall(tmp_path: Path) -> AsyncIterator[Api]:
    cfg = load_config(everyone_serves_g(tmp_path / "wide-hall.toml"))
    assert all("G" in w.weights for w in cfg.windows.values())
    data_dir = tmp_path / "data"
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        yield api


async def call_all(hall: Api, windows: list[int]) -> dict[int, dict[str, Any] | None]:
    """call-next on every window at once; returns the ticket each one got."""
    answers = await asyncio.gather(*(hall.window(n, "call-next") for n in windows))
    got: dict[int, dict[str, Any] | None] = {}
    for n, (status, body) in zip(windows, answers, strict=True):
        assert status == 200, (n, body)
        got[n] = body["ticket"]
    return got


async def current_by_window(hall: Api) -> dict[int, str | None]:
    _, body = await hall.call("GET", "/api/windows")
    return {w["number"]: (w["current"] or {}).get("id") for w in body["windows"]}


async def test_every_window_calling_at_once_shares_five_tickets(wide_hall: Api) -> None:
    hall = wide_hall
    for n in ALL_WINDOWS:
        assert (await hall.window(n, "open"))[0] == 200
    served: Counter[str] = Counter()
    for round_, count in enumerate((5, 11, 3, 15)):
        issued = {t["id"] for t in await asyncio.gather(*(hall.issue("G")
                                                          for _ in range(count)))}
        got = await call_all(hall, ALL_WINDOWS)
        called = [t["id"] for t in got.values() if t is not None]
        assert len(called) == count, round_  # every waiting ticket went to one window
        assert set(called) == issued
        served.update(called)
        current = await current_by_window(hall)
        for n, t in got.items():
            assert current[n] == (t["id"] if t else None)
    assert len(served) == 5 + 11 + 3 + 15
    assert max(served.values()) == 1
    _, queue = await hall.call("GET", "/api/queue")
    assert all(c["waiting_count"] == 0 for c in queue["categories"])


async def test_shared_categories_are_never_called_twice(hall: Api) -> None:
    windows = [1, 2, 3, 8, 10]  # A: 1 2 3 8; D: 1 2 8 10
    for n in windows:
        await hall.window(n, "open")
    tickets = [await hall.issue(c) for c in "AAD"]
    seen: list[str] = []
    for _ in range(2):
        got = await call_all(hall, windows)
        seen += [t["id"] for t in got.values() if t is not None]
    assert sorted(seen) == sorted(t["id"] for t in tickets)


async def test_concurrent_issues_get_distinct_consecutive_numbers(hall: Api) -> None:
    tickets = await asyncio.gather(*(hall.issue(c) for c in "ABA" * 30))
    a = [t for t in tickets if t["category"] == "A"]
    b = [t for t in tickets if t["category"] == "B"]
    assert sorted(t["number"] for t in a) == [f"A{i:03d}" for i in range(1, 61)]
    assert sorted(t["number"] for t in b) == [f"B{i:03d}" for i in range(1, 31)]
    assert len({t["id"] for t in tickets}) == 90
    # each was told how many are ahead as of its own commit: 0..59 once each
    assert sorted(t["waiting_ahead"] for t in a) == list(range(60))
    _, queue = await hall.call("GET", "/api/queue")
    qa = queue["categories"][0]
    assert [t["number"] for t in qa["waiting"]] == [f"A{i:03d}" for i in range(1, 61)]
    _, events = await hall.call("GET", "/api/events?limit=1000", hall.tokens.admin)
    assert [e["seq"] for e in events["events"]] == list(range(1, 91))


async def test_concurrent_actions_on_one_window_are_serialised(hall: Api) -> None:
    await hall.window(1, "open")
    for _ in range(3):
        await hall.issue("A")
    answers = await asyncio.gather(*(hall.window(1, "call-next") for _ in range(5)))
    called = [b["ticket"]["number"] if b["ticket"] else None for _, b in answers]
    assert all(s == 200 for s, _ in answers)
    assert sorted(n for n in called if n) == ["A001", "A002", "A003"]
    assert called.count(None) == 2
    _, windows = await hall.call("GET", "/api/windows")
    assert windows["windows"][0]["served"] == 3
