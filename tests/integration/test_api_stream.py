"""API over real HTTP: the WebSocket event stream at /api/stream.

A client gets a hello, then every committed event in sequence order; `?after=SEQ` replays
the backlog from the log and then follows live, with no gap and no duplicate even while
tickets are being issued during the switch, and needs a supervisor's token (following live needs none); two clients see
the same events; events on the stream carry no identity hash; a bad `after` is a JSON 400.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import Api

ID_NUMBER = "11010519491231002X"


def history(hall: Api, after: int) -> Any:
    """The stream from `after`: the log's history, so a supervisor's token."""
    return hall.session.ws_connect(f"{hall.base}/api/stream?after={after}",
                                   headers=hall.auth(hall.tokens.supervisor))


async def next_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive_json(timeout=5)
    assert msg["type"] == "event", msg
    return msg["event"]  # type: ignore[no-any-return]


async def events_until(ws: aiohttp.ClientWebSocketResponse, seq: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not out or out[-1]["seq"] < seq:
        out.append(await next_event(ws))
    return out


async def test_hello_then_each_event_in_order(hall: Api) -> None:
    async with hall.session.ws_connect(hall.base + "/api/stream") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"type": "hello", "hall_id": "demo-330100", "last_seq": 0}
        ticket = await hall.issue("A")
        await hall.window(1, "open")
        await hall.window(1, "call-next")
        events = [await next_event(ws) for _ in range(3)]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["ticket.issued", "window.opened", "ticket.called"]
    assert events[0]["data"]["ticket_id"] == ticket["id"]
    assert events[0]["data"]["number"] == "A001"
    assert events[2]["data"]["window"] == 1
    assert all(set(e) == {"seq", "id", "ts", "type", "data"} for e in events)
    # the same envelopes as the log
    _, log = await hall.call("GET", "/api/events", hall.tokens.supervisor)
    assert log["events"] == events


async def test_without_after_only_new_events_come(hall: Api) -> None:
    await hall.issue("A")
    await hall.issue("A")
    async with hall.session.ws_connect(hall.base + "/api/stream") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["last_seq"] == 2
        await hall.issue("B")
        event = await next_event(ws)
    assert (event["seq"], event["data"]["number"]) == (3, "B001")


async def test_after_replays_the_backlog_then_follows_live(hall: Api) -> None:
    for _ in range(5):
        await hall.issue("A")
    async with history(hall, 2) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"type": "hello", "hall_id": "demo-330100", "last_seq": 2}
        backlog = [await next_event(ws) for _ in range(3)]
        assert [e["seq"] for e in backlog] == [3, 4, 5]
        assert [e["data"]["number"] for e in backlog] == ["A003", "A004", "A005"]
        for _ in range(3):
            await hall.issue("C")
        live = [await next_event(ws) for _ in range(3)]
    assert [e["seq"] for e in live] == [6, 7, 8]
    assert [e["data"]["number"] for e in live] == ["C001", "C002", "C003"]


async def test_after_zero_replays_everything(hall: Api) -> None:
    for _ in range(3):
        await hall.issue("H")
    async with history(hall, 0) as ws:
        assert (await ws.receive_json(timeout=5))["last_seq"] == 0
        events = await events_until(ws, 3)
    assert [e["seq"] for e in events] == [1, 2, 3]


async def test_no_gap_or_duplicate_while_events_commit_during_the_replay(hall: Api) -> None:
    # 600 events: more than one backlog page of 500
    await asyncio.gather(*(hall.issue("G") for _ in range(300)))
    await asyncio.gather(*(hall.issue("H") for _ in range(300)))

    async def issue_more() -> None:
        for _ in range(6):
            await asyncio.gather(*(hall.issue("B") for _ in range(10)))

    writer = asyncio.create_task(issue_more())  # commits while the backlog is replayed
    async with history(hall, 10) as ws:
        assert (await ws.receive_json(timeout=5))["last_seq"] == 10
        await writer
        events = await events_until(ws, 660)
        with pytest.raises(asyncio.TimeoutError):  # and nothing after the last one
            await ws.receive(timeout=0.2)
    assert [e["seq"] for e in events] == list(range(11, 661))
    assert len({e["id"] for e in events}) == 650
    assert [e["data"]["number"] for e in events if e["data"]["category"] == "B"] == [
        f"B{i:03d}" for i in range(1, 61)]


async def test_two_clients_see_the_same_events(hall: Api) -> None:
    url = hall.base + "/api/stream"
    async with hall.session.ws_connect(url) as a, hall.session.ws_connect(url) as b:
        await a.receive_json(timeout=5)
        await b.receive_json(timeout=5)
        await asyncio.gather(*(hall.issue("E") for _ in range(5)))
        got_a = await events_until(a, 5)
        got_b = await events_until(b, 5)
    assert got_a == got_b
    assert [e["seq"] for e in got_a] == [1, 2, 3, 4, 5]


async def test_stream_carries_no_identity(hall: Api) -> None:
    async with hall.session.ws_connect(hall.base + "/api/stream") as ws:
        await ws.receive_json(timeout=5)
        await hall.issue("A", identity=ID_NUMBER)
        msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT
    event = json.loads(msg.data)["event"]
    assert event["type"] == "ticket.issued"
    assert "identity_hash" not in event["data"]
    assert "identity" not in msg.data and ID_NUMBER not in msg.data
    # replayed from the log, too
    async with history(hall, 0) as ws:
        await ws.receive_json(timeout=5)
        msg = await ws.receive(timeout=5)
    assert "identity" not in msg.data and ID_NUMBER not in msg.data


async def test_bad_after_is_400_json(hall: Api) -> None:
    for query in ("after=abc", "after=1.5", "after="):
        status, body = await hall.call("GET", f"/api/stream?{query}", hall.tokens.supervisor)
        assert (status, body["error"]) == (400, "bad_query"), query


async def test_plain_get_without_upgrade_is_400_json(hall: Api) -> None:
    status, body = await hall.call("GET", "/api/stream")
    assert status == 400
    assert set(body) == {"error", "detail"}


async def test_after_beyond_sqlite_integer_is_400(hall: Api) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with hall.session.ws_connect(hall.base + "/api/stream?after=" + "9" * 20,
                                           headers=hall.auth(hall.tokens.supervisor)) as ws:
            await ws.receive(timeout=2)
            await ws.receive(timeout=2)
    assert refused.value.status == 400


async def test_history_needs_a_supervisor_token(hall: Api) -> None:
    """The live stream is for the displays; the log's history is a supervisor's read, as in
    GET /api/events: free text kept public (a pause reason) is not for anyone to replay."""
    await hall.issue("A")
    for token, status in ((None, 401), (hall.tokens.kiosk, 403), (hall.tokens.clerk[1], 403)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with hall.session.ws_connect(hall.base + "/api/stream?after=0",
                                               headers=hall.auth(token)):
                pass
        assert refused.value.status == status, token
        code, body = await hall.call("GET", "/api/stream?after=0", token)
        assert code == status and body["error"], body
    async with history(hall, 0) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        assert (await next_event(ws))["type"] == "ticket.issued"
