"""The live event stream over WebSocket: each event as it commits, in order.

`?after=SEQ` first sends what the client missed from the log, then follows live, with no
gap and no duplicate between the two; it needs a supervisor's or an admin's token, as the
log does (`GET /api/events`). Following live needs none: the pages on the hall's displays
use it to know when to read the state again. Each client has a bounded queue: a client
too slow to keep up is disconnected (it reconnects, with `after=` if it may read the log)
rather than growing the daemon's memory without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from controller.store.eventlog import Envelope
from controller.web.api import HALL, MAX_SEQ, Hall, envelope_view
from controller.web.auth import READ_ALL_ROLES
from controller.web.errors import ApiError

CLIENT_QUEUE = 2048


class StreamHub:
    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[list[Envelope] | None]] = set()

    def publish(self, envelopes: list[Envelope]) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(envelopes)
            except asyncio.QueueFull:
                self.clients.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)  # tells the client task it was dropped

    def close_all(self) -> None:
        for queue in list(self.clients):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.clients.clear()


HUB = web.AppKey("stream_hub", StreamHub)


async def stream(request: web.Request) -> web.StreamResponse:
    hall: Hall = request.app[HALL]
    hub = request.app[HUB]
    try:
        after = int(request.query.get("after", "-1"))
    except ValueError:
        raise ApiError(400, "bad_query", "after must be an integer") from None
    if after > MAX_SEQ:
        raise ApiError(400, "bad_query", f"after must be at most {MAX_SEQ}")
    if after >= 0:
        # The history is the log, read as `GET /api/events` reads it; the pages follow
        # live with no token and ask the API for the state they show.
        await hall.auth.require(request, READ_ALL_ROLES)
    ws = web.WebSocketResponse(heartbeat=20.0)
    if not ws.can_prepare(request).ok:  # else prepare() raises a bare "Bad Request"
        raise ApiError(400, "websocket_required",
                       "/api/stream is a WebSocket: connect with a WebSocket client (a GET "
                       "with Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key and "
                       "Sec-WebSocket-Version: 13)")
    await ws.prepare(request)
    queue: asyncio.Queue[list[Envelope] | None] = asyncio.Queue(CLIENT_QUEUE)
    hub.clients.add(queue)  # subscribe before reading the backlog: nothing falls between
    sent = hall.writer.state.last_seq if after < 0 else after
    try:
        await ws.send_json({"type": "hello", "hall_id": hall.cfg.hall_id, "last_seq": sent})
        if after >= 0:
            while True:
                backlog = await hall.log.read(sent, 500)
                if not backlog:
                    break
                for e in backlog:
                    await ws.send_json(_message(e, hall))
                sent = backlog[-1].seq
        reader = asyncio.ensure_future(_drain_incoming(ws))
        try:
            while not ws.closed:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    break
                batch = getter.result()
                if batch is None:
                    await ws.close(code=1013, message=b"too slow; reconnect with after=")
                    break
                for e in batch:
                    if e.seq > sent:
                        await ws.send_json(_message(e, hall))
                        sent = e.seq
        finally:
            reader.cancel()
    except ConnectionResetError:
        pass
    finally:
        hub.clients.discard(queue)
        await ws.close()
    return ws


def _message(e: Envelope, hall: Hall) -> dict[str, Any]:
    return {"type": "event", "event": envelope_view(e, hall)}


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Reads (and ignores) what the client sends, to notice when it goes away."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            return
