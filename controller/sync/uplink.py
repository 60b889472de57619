"""The uplink drain: events after the cursor go up in order, in batches, a bounded number
in flight, and the cursor advances (durably) only over the acknowledged prefix.

Independent of the MQTT client: it is handed a `publish(payload)` coroutine that returns
once the broker acknowledged (PUBACK). A failed publish ends the session; the next one
starts again from the cursor, and receivers drop the repeats by event id.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from controller.store.eventlog import Envelope, EventLog
from controller.sync.cursor import CursorStore

Publish = Callable[[bytes], Awaitable[None]]
Encode = Callable[[list[Envelope]], bytes]


class Uplink:
    """`link` is the broker-acknowledged cursor. With `receipts`, a second cursor
    (`link` + ".receipt") records what the receiver itself confirmed having stored, and
    each new session starts from there: a broker that crashes after its PUBACK (and so
    loses messages it had accepted) costs re-sends, never events."""

    def __init__(self, link: str, log: EventLog, cursors: CursorStore, encode: Encode,
                 batch_max: int = 200, max_inflight: int = 8, receipts: bool = False) -> None:
        self.link = link
        self.receipts = receipts
        self.received = 0  # the receiver-confirmed cursor, when receipts are on
        self.log = log
        self.cursors = cursors
        self.encode = encode
        self.batch_max = batch_max
        self.max_inflight = max_inflight
        self.acked = 0  # in memory, mirrors the durable cursor
        self.sent_batches = 0
        self._wake = asyncio.Event()

    def notify(self, _: list[Envelope] | None = None) -> None:
        """New events were committed (a writer subscriber)."""
        self._wake.set()

    async def load(self) -> None:
        self.acked = await self.cursors.get(self.link)
        if self.receipts:
            self.received = await self.cursors.get(self.link + ".receipt")

    async def receipt(self, seq: int) -> None:
        """The receiver stored everything up to `seq` (never past what the broker acked:
        a receiver cannot have stored what was never sent)."""
        seq = min(seq, self.acked)
        if seq > self.received:
            await self.cursors.advance(self.link + ".receipt", seq)
            self.received = seq

    @property
    def restart_point(self) -> int:
        return min(self.acked, self.received) if self.receipts else self.acked

    async def drain(self, publish: Publish) -> None:
        """Runs for one connected session; returns only by raising (link broken)."""
        await self.load()
        # Batches re-sent below the broker cursor are acknowledged again without moving it.
        sent = self.restart_point
        inflight: deque[tuple[int, asyncio.Task[None]]] = deque()
        try:
            while True:
                if len(inflight) < self.max_inflight:
                    self._wake.clear()
                    batch = await self.log.read(sent, self.batch_max)
                    if batch:
                        task = asyncio.ensure_future(publish(self.encode(batch)))
                        inflight.append((batch[-1].seq, task))
                        sent = batch[-1].seq
                        self.sent_batches += 1
                        continue
                if inflight:
                    waker = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait({inflight[0][1], waker},
                                       return_when=asyncio.FIRST_COMPLETED)
                    waker.cancel()
                    acked = self.acked
                    while inflight and inflight[0][1].done():
                        last_seq, task = inflight.popleft()
                        task.result()  # a failed publish raises: the session ends
                        acked = last_seq
                    if acked > self.acked:
                        await self.cursors.advance(self.link, acked)
                        self.acked = acked
                else:
                    await self._wake.wait()
        finally:
            for _, task in inflight:
                task.cancel()
