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
from typing import Any

from controller.store.eventlog import Envelope, EventLog, WireBatch
from controller.sync.cursor import CursorStore

Publish = Callable[[bytes], Awaitable[None]]
READ_AHEAD = 10  # batches read ahead of the window: memory stays bounded by this
Encode = Callable[[WireBatch], bytes]


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
        self.highest_sent = 0  # the highest seq handed to the broker by this process
        self.log = log
        self.cursors = cursors
        self.encode = encode
        self.batch_max = batch_max
        self.max_inflight = max_inflight
        self.acked = 0  # in memory, mirrors the durable cursor
        self.sent_batches = 0
        self._wake = asyncio.Event()
        self._dirty = asyncio.Event()

    def notify(self, _: list[Envelope] | None = None) -> None:
        """New events were committed (a writer subscriber)."""
        self._wake.set()

    async def load(self) -> None:
        self.acked = await self.cursors.get(self.link)
        if self.receipts:
            self.received = await self.cursors.get(self.link + ".receipt")

    async def receipt(self, seq: int) -> None:
        """The receiver stored everything up to `seq` (capped at what this hall ever sent:
        a receiver cannot have stored more, and a wrong receipt must not skip events)."""
        seq = min(seq, max(self.acked, self.highest_sent))
        if seq > self.received:
            await self.cursors.advance(self.link + ".receipt", seq)
            self.received = seq

    @property
    def restart_point(self) -> int:
        return min(self.acked, self.received) if self.receipts else self.acked

    async def drain(self, publish: Publish) -> None:
        """Runs for one connected session; returns only by raising (link broken).

        A reader task keeps a bounded queue of batches filled from SQLite while earlier
        batches are on the wire, so neither waits for the other; the drain itself waits
        for whichever comes first, the next batch or the oldest acknowledgement."""
        await self.load()
        batches: asyncio.Queue[WireBatch] = asyncio.Queue(READ_AHEAD)
        # Batches re-sent below the broker cursor are acknowledged again without moving it.
        reader = asyncio.ensure_future(self._read_into(batches, self.restart_point))
        saver = asyncio.ensure_future(self._save_cursor())
        inflight: deque[tuple[int, asyncio.Task[None]]] = deque()
        getter: asyncio.Task[WireBatch] | None = None
        try:
            while True:
                if reader.done():
                    reader.result()  # a failed read ends the session
                # Fill the window from batches already read: no waiting, no extra tasks.
                while len(inflight) < self.max_inflight and (
                        getter is not None or not batches.empty()):
                    if getter is not None:
                        if not getter.done():
                            break
                        batch, getter = getter.result(), None
                    else:
                        batch = batches.get_nowait()
                    inflight.append((batch.last_seq,
                                     asyncio.ensure_future(publish(self.encode(batch)))))
                    self.highest_sent = max(self.highest_sent, batch.last_seq)
                    self.sent_batches += 1
                if len(inflight) >= self.max_inflight:
                    await asyncio.wait((inflight[0][1], reader),
                                       return_when=asyncio.FIRST_COMPLETED)
                else:  # the window has room and nothing is read yet: whichever comes first
                    if getter is None:
                        getter = asyncio.ensure_future(batches.get())
                    waiting: set[asyncio.Future[Any]] = {reader, getter}
                    if inflight:
                        waiting.add(inflight[0][1])
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                acked = self.acked
                while inflight and inflight[0][1].done():
                    last_seq, task = inflight.popleft()
                    task.result()  # a failed publish raises: the session ends
                    acked = max(acked, last_seq)
                if acked > self.acked:
                    self.acked = acked
                    self._dirty.set()
        finally:
            pending: list[asyncio.Future[Any]] = [reader, saver, *(t for _, t in inflight)]
            if getter is not None:
                pending.append(getter)
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.cursors.advance(self.link, self.acked)

    async def _read_into(self, batches: asyncio.Queue[WireBatch], after: int) -> None:
        """Fills `batches` in seq order from `after`; the queue's bound bounds memory
        (at most twice READ_AHEAD batches). SQLite builds each batch whole, so a batch
        costs Python one row, not one per event."""
        while True:
            self._wake.clear()
            read = await self.log.read_wire_batches(after, self.batch_max, READ_AHEAD)
            if not read:
                await self._wake.wait()
                continue
            for batch in read:
                await batches.put(batch)
            after = read[-1].last_seq

    async def _save_cursor(self) -> None:
        """Writes the acknowledged cursor behind the drain, coalescing: one write in flight,
        always the latest value. A cursor lost to a crash only costs re-sends (receivers
        drop them by id), so the drain never waits for this disk write."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.cursors.advance(self.link, self.acked)
