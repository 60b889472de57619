"""Crash recovery: the daemon as a real process, `kill -9`, and a restart on the same data.

Two crashes. One after a busy morning has quietened (every answer received): the restart
must show exactly the hall that was acknowledged, ticket for ticket and window for window.
One in the middle of a burst of requests: every request that got a 2xx is there after
the restart; those that got no answer may or may not be, but numbering stays gapless and
is never reused. After each kill the SQLite file passes `PRAGMA integrity_check` and the
event sequence is 1..N without a hole.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.store.eventlog import DB_NAME
from tests.conftest import Api, DaemonProcess, make_tokens

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CLERK_WINDOWS = (1, 2, 4, 13)
BURST_WINDOWS = (14, 15, 16)  # G and H: quotas of 500, far from the burst's size


# ---- helpers ----------------------------------------------------------------------------

def inspect_copy(data_dir: Path, into: Path) -> tuple[list[tuple[Any, ...]], list[int], int]:
    """Integrity, seqs and distinct ids of a copy of the log exactly as the kill left it
    (database, WAL and shared memory), so the restart still sees the original files."""
    into.mkdir()
    for suffix in ("", "-wal", "-shm"):
        src = data_dir / (DB_NAME + suffix)
        if src.exists():
            shutil.copy2(src, into / src.name)
    conn = sqlite3.connect(into / DB_NAME)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchall()
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        (ids,) = conn.execute("SELECT COUNT(DISTINCT id) FROM events").fetchone()
    finally:
        conn.close()
    return check, seqs, int(ids)


async def all_events(api: Api) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        after = out[-1]["seq"] if out else 0
        status, body = await api.call("GET", f"/api/events?after={after}&limit=1000",
                                      api.tokens.supervisor)
        assert status == 200, body
        if not body["events"]:
            return out
        out += body["events"]


async def ticket(api: Api, ticket_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/tickets/{ticket_id}", api.tokens.supervisor)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def issued_today(api: Api) -> dict[str, int]:
    status, body = await api.call("GET", "/api/queue")
    assert status == 200
    return {c["prefix"]: c["issued_today"] for c in body["categories"]}


async def ok(api: Api, window: int, action: str, body: Any = None) -> dict[str, Any]:
    status, answer = await api.window(window, action, body, token=api.tokens.clerk[window])
    assert status == 200, (window, action, answer)
    return answer  # type: ignore[no-any-return]


def kill9_now(d: DaemonProcess) -> None:
    """SIGKILL without waiting: called from inside the event loop, mid-burst."""
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGKILL)


# ---- a crash after a busy morning -------------------------------------------------------

async def morning(api: Api, expected: dict[str, str]) -> None:
    """Windows at work in parallel; each answer records the status it announced."""

    def note(answer: dict[str, Any]) -> dict[str, Any] | None:
        t = answer.get("ticket")
        if t is not None:
            expected[t["id"]] = t["status"]
        return t  # type: ignore[no-any-return]

    async def window_1() -> None:  # serves and completes, with case numbers
        for i in range(12):
            t = note(await ok(api, 1, "call-next"))
            assert t is not None and t["status"] == "called"
            done = note(await ok(api, 1, "complete", {"case_no": f"3301002026{i:08d}"}))
            assert done is not None and done["status"] == "completed"
        note(await ok(api, 1, "call-next"))  # left at the window: "called"

    async def window_2() -> None:  # transfers, suspends, no-shows, recalls: first, alone
        note(await ok(api, 2, "call-next"))
        t = note(await ok(api, 2, "transfer", {"to_category": "B", "reason": "社保事项"}))
        assert t is not None and (t["status"], t["category"]) == ("waiting", "B")
        note(await ok(api, 2, "call-next"))
        t = note(await ok(api, 2, "transfer", {"to_window": 4, "reason": "需公积金联办"}))
        assert t is not None and t["directed_window"] == 4
        note(await ok(api, 2, "call-next"))
        t = note(await ok(api, 2, "suspend"))
        assert t is not None and t["status"] == "suspended"
        note(await ok(api, 2, "call-next"))
        t = note(await ok(api, 2, "no-show"))
        assert t is not None and t["status"] == "no_show"
        note(await ok(api, 2, "call-next"))
        t = note(await ok(api, 2, "recall"))
        assert t is not None and (t["status"], t["recalls"]) == ("called", 1)

    async def window_4() -> None:  # call-next completes the previous ticket by itself
        previous: str | None = None
        for _ in range(8):
            t = note(await ok(api, 4, "call-next"))
            assert t is not None
            if previous is not None:
                expected[previous] = "completed"
            previous = t["id"]

    async def window_13() -> None:  # consultations, then a pause for lunch
        for _ in range(6):
            note(await ok(api, 13, "call-next"))
            note(await ok(api, 13, "complete"))
        answer = await ok(api, 13, "pause", {"reason": "午休"})
        assert answer["window"]["state"] == "paused"

    # Window 2 hands tickets to window 4 and to category B: it works first, so that no
    # answer about a transferred ticket can overtake the transfer's own answer.
    await window_2()
    await asyncio.gather(window_1(), window_4(), window_13())


async def test_kill9_after_a_busy_morning_restores_the_hall_exactly(
        daemon_process: DaemonProcess, tmp_path: Path) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir, CLERK_WINDOWS)
    await d.started()
    plan = ["A"] * 100 + ["B"] * 60 + ["G"] * 40
    expected: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        for w in CLERK_WINDOWS:
            assert (await ok(api, w, "open"))["window"]["state"] == "open"
        assert (await api.window(9, "open"))[1]["window"]["state"] == "open"
        assert (await api.window(9, "close"))[1]["window"]["state"] == "closed"

        async def take(i: int, cat: str) -> dict[str, Any]:
            extra = {"priority": "green"} if i % 17 == 0 else {}
            channel = ("kiosk", "idcard", "web", "sms")[i % 4]
            return await api.issue(cat, channel=channel, **extra)

        tickets = await asyncio.gather(*(take(i, c) for i, c in enumerate(plan)))
        for t in tickets:
            expected[t["id"]] = t["status"]
        by_cat: dict[str, list[str]] = {}
        for t in tickets:
            by_cat.setdefault(t["category"], []).append(t["number"])
        assert {c: sorted(v) for c, v in by_cat.items()} == {
            c: [f"{c}{i:03d}" for i in range(1, n + 1)] for c, n in Counter(plan).items()}

        await morning(api, expected)

        before_tickets = {tid: await ticket(api, tid) for tid in expected}
        assert {tid: t["status"] for tid, t in before_tickets.items()} == expected
        before_windows = (await api.call("GET", "/api/windows"))[1]
        before_queue = (await api.call("GET", "/api/queue"))[1]
        last_seq = (await api.call("GET", "/healthz"))[1]["last_seq"]
        # 12 + 7 + 6 completed at windows 1, 4 and 13; one called at each of 1, 2 and 4.
        assert Counter(expected.values()) == {"completed": 25, "called": 3, "suspended": 1,
                                              "no_show": 1, "waiting": 170}

    d.kill9()

    check, seqs, ids = inspect_copy(d.data_dir, tmp_path / "after-kill")
    assert check == [("ok",)]
    assert seqs == list(range(1, last_seq + 1))
    assert ids == last_seq

    await d.started()
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        assert (await api.call("GET", "/healthz"))[1]["last_seq"] == last_seq
        after_tickets = {tid: await ticket(api, tid) for tid in expected}
        assert {tid: t["status"] for tid, t in after_tickets.items()} == expected
        assert after_tickets == before_tickets  # numbers, windows, history, case numbers
        assert (await api.call("GET", "/api/windows"))[1] == before_windows
        assert (await api.call("GET", "/api/queue"))[1] == before_queue
        windows = {w["number"]: w for w in before_windows["windows"]}
        assert windows[13]["state"] == "paused" and windows[13]["pause_reason"] == "午休"
        assert windows[9]["state"] == "closed"
        assert windows[1]["current"]["status"] == "called"

        # Numbering goes on where it stopped, per category; a transfer took no number.
        for cat, count in Counter(plan).items():
            fresh = await api.issue(cat)
            assert fresh["number"] == f"{cat}{count + 1:03d}"
            assert fresh["id"] not in expected
        # And the restored windows keep working.
        nxt = await ok(api, 1, "call-next")
        assert nxt["ticket"] is not None and nxt["ticket"]["id"] != windows[1]["current"]["id"]
        assert (await ticket(api, windows[1]["current"]["id"]))["status"] == "completed"
    assert d.terminate() == 0


# ---- a crash in the middle of a burst ---------------------------------------------------

async def test_kill9_mid_burst_keeps_every_acknowledged_request(
        daemon_process: DaemonProcess, tmp_path: Path) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir, BURST_WINDOWS)
    await d.started()
    issued: dict[str, str] = {}  # acknowledged tickets: id -> number
    calls: dict[int, list[str]] = {w: [] for w in BURST_WINDOWS}  # acknowledged, in order
    unanswered = 0
    sent = 0
    killed = asyncio.Event()
    kiosks = 48

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = Api(d.base, session, tokens)
        for w in BURST_WINDOWS:
            await ok(api, w, "open")
        for cat in ("G", "H") * 5:  # something to call from the start
            first = await api.issue(cat)
            issued[first["id"]] = first["number"]

        async def kiosk(k: int) -> None:
            """Issues tickets back to back until the daemon stops answering."""
            nonlocal unanswered, sent
            while True:
                sent += 1
                try:
                    status, body = await api.call("POST", "/api/tickets", tokens.kiosk,
                                                  {"category": "GH"[k % 2]})
                except aiohttp.ClientError:
                    unanswered += 1
                    return
                assert status == 201, body
                issued[body["id"]] = body["number"]
                if len(issued) == 150 and not killed.is_set():
                    kill9_now(d)  # right now, with the other kiosks' requests in flight
                    killed.set()

        async def clerk(window: int) -> None:
            while True:
                try:
                    status, body = await api.window(window, "call-next",
                                                    token=tokens.clerk[window])
                except aiohttp.ClientError:
                    return
                assert status == 200, body
                if body["ticket"] is not None:
                    calls[window].append(body["ticket"]["id"])

        await asyncio.wait_for(
            asyncio.gather(*(kiosk(k) for k in range(kiosks)),
                           *(clerk(w) for w in BURST_WINDOWS)), 30)
        assert d.proc is not None
        await asyncio.to_thread(d.proc.wait, 10)

    assert killed.is_set()
    assert unanswered == kiosks  # each kiosk's last request went unanswered
    assert len(issued) - 10 + unanswered == sent
    assert len(issued) >= 150

    check, seqs, ids = inspect_copy(d.data_dir, tmp_path / "after-kill")
    assert check == [("ok",)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert ids == len(seqs)

    await d.started()
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        # Every acknowledged ticket is there, with the number it was given.
        for tid, number in issued.items():
            assert (await ticket(api, tid))["number"] == number
        # Each window's acknowledged calls: all but the last were completed by the next
        # call; the last one is still called there, unless an unanswered call-next
        # (committed before the kill) completed it.
        windows = {w["number"]: w for w in (await api.call("GET", "/api/windows"))[1]["windows"]}
        for w, ids_ in calls.items():
            for tid in ids_[:-1]:
                t = await ticket(api, tid)
                assert t["status"] == "completed"
                assert [h.get("window") for h in t["history"]][-2:] == [w, w]
            if ids_:
                last = await ticket(api, ids_[-1])
                assert last["status"] in ("called", "completed")
                if last["status"] == "called":
                    assert windows[w]["current"]["id"] == ids_[-1]
                else:
                    assert windows[w]["current"] is None or windows[w]["current"]["id"] not in ids_
            assert windows[w]["state"] == "open"

        # Numbers in the log are exactly 1..k per category: nothing skipped, nothing twice,
        # every acknowledged number among them; and the next one is k + 1.
        events = await all_events(api)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        numbers: dict[str, list[int]] = {"G": [], "H": []}
        for e in events:
            if e["type"] == "ticket.issued":
                numbers[e["data"]["category"]].append(int(e["data"]["number"][1:]))
        counts = await issued_today(api)
        for cat in ("G", "H"):
            assert numbers[cat] == list(range(1, counts[cat] + 1))
            acked = [int(n[1:]) for n in issued.values() if n[0] == cat]
            assert max(acked) <= counts[cat]
            fresh = await api.issue(cat)
            assert fresh["number"] == f"{cat}{counts[cat] + 1:03d}"
    assert d.terminate() == 0
