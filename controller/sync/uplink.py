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

import structlog

from controller.store.eventlog import Envelope
from controller.store.wire import WireBatch
from controller.sync.cursor import CursorStore
from controller.sync.read_ahead import ReadAhead, WireSource

Publish = Callable[[bytes], Awaitable[None]]
# A drain writes its cursor at most this often (and always at the end of a session).
CURSOR_EVERY_S = 0.1
RESEND_WAIT_MAX_S = 600.0  # the longest wait for a stuck receipt, once it has doubled
Encode = Callable[[WireBatch], bytes]
logger = structlog.get_logger("sync")


class Uplink:
    """`link` is the broker-acknowledged cursor. With `receipts`, a second cursor
    (`link` + ".receipt") records what the receiver itself confirmed having stored, and
    each new session starts from there: a broker that crashes after its PUBACK (and so
    loses messages it had accepted) costs re-sends, never events."""

    def __init__(self, link: str, log: WireSource, cursors: CursorStore, encode: Encode,
                 batch_max: int = 200, max_inflight: int = 8, receipts: bool = False,
                 receipt_wait_s: float = 30.0, linger_s: float = 0.0) -> None:
        self.link = link
        self.receipts = receipts
        self.receipt_wait_s = receipt_wait_s
        self.linger_s = linger_s  # batching by time: see ReadAhead
        self.resends = 0  # times the receipt stuck behind the broker's cursor: sent again
        self.received = 0  # the receiver-confirmed cursor, when receipts are on
        self.highest_sent = 0  # the highest seq handed to the broker by this process
        self.log = log
        self.cursors = cursors
        self.encode = encode
        self.batch_max = batch_max
        self.max_inflight = max_inflight
        self.acked = 0  # in memory, mirrors the durable cursor
        self.sent_batches = 0
        self._ahead: ReadAhead | None = None  # the session's reader, while one runs
        self._dirty = asyncio.Event()
        self._receipt_moved = asyncio.Event()

    def notify(self, _: list[Envelope] | None = None) -> None:
        """New events were committed (a writer subscriber)."""
        if self._ahead is not None:
            self._ahead.more()

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
            self._receipt_moved.set()

    @property
    def restart_point(self) -> int:
        return min(self.acked, self.received) if self.receipts else self.acked

    async def drain(self, publish: Publish, max_bytes: int | None = None) -> None:
        """Runs for one connected session; returns only by raising (link broken).

        A reader thread (`ReadAhead`) keeps batches read from SQLite ahead of the window
        while earlier batches are on the wire, so neither waits for the other. Everything
        that can let the drain move on (a batch read, a publish answered, the reader
        failing) sets one event: the loop costs one wake-up per step, not a wait set.
        `max_bytes`: the most bytes of events a batch may carry (the broker's maximum
        packet size, less the envelope); batches are cut to fit."""
        await self.load()
        progress = asyncio.Event()
        rewind = False

        def moved(_: object = None) -> None:
            progress.set()

        def resend() -> None:
            nonlocal rewind
            rewind = True
            progress.set()

        # Batches re-sent below the broker cursor are acknowledged again without moving it.
        ahead = self._ahead = ReadAhead(self.log, self.restart_point, self.batch_max, moved,
                                        max_bytes, self.linger_s)
        helpers = [asyncio.ensure_future(self._save_cursor())]
        if self.receipts:
            helpers.append(asyncio.ensure_future(self._watch_receipts(resend)))
        inflight: deque[tuple[int, asyncio.Task[None]]] = deque()
        try:
            while True:
                progress.clear()
                if ahead.error is not None:
                    raise ahead.error  # a failed read ends the session
                if rewind:
                    rewind = False
                    await ahead.stop()
                    ahead = self._ahead = ReadAhead(self.log, self.restart_point,
                                                    self.batch_max, moved, max_bytes,
                                                    self.linger_s)
                while inflight and inflight[0][1].done():
                    last_seq, task = inflight.popleft()
                    task.result()  # a failed publish raises: the session ends
                    if last_seq > self.acked:  # kept even if a later one failed
                        self.acked = last_seq
                        self._dirty.set()
                while len(inflight) < self.max_inflight and (batch := ahead.take()) is not None:
                    if max_bytes is not None and len(batch.events) > max_bytes:
                        # Only an event bigger than the budget on its own gets here: the
                        # broker will drop the link for it, again and again. Say why.
                        logger.error("event_larger_than_broker_allows", seq=batch.first_seq,
                                     bytes=len(batch.events), budget=max_bytes)
                    task = asyncio.ensure_future(publish(self.encode(batch)))
                    task.add_done_callback(moved)
                    inflight.append((batch.last_seq, task))
                    self.highest_sent = max(self.highest_sent, batch.last_seq)
                    self.sent_batches += 1
                await progress.wait()
        finally:
            ahead.halt()  # first: a second cancel during the awaits below cannot leave it
            self._ahead = None
            pending: list[asyncio.Future[Any]] = [*helpers, *(t for _, t in inflight)]
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await ahead.stop()
            await self.cursors.advance(self.link, self.acked)

    async def _watch_receipts(self, resend: Callable[[], None]) -> None:
        """With receipts, within a session: when a whole `receipt_wait_s` passes without
        the receipt moving, while it stays below what the broker had acknowledged when
        that wait began, the broker lost events after its PUBACK (the receiver holds
        everything after the gap). The drain then sends again from the receipt cursor,
        without waiting for a reconnect. The wait doubles (to RESEND_WAIT_MAX_S) while
        the receipt stays stuck, so a receiver that is down costs a re-send now and then,
        and is back to `receipt_wait_s` the moment the receipt moves."""
        wait = self.receipt_wait_s
        while True:
            acked_before = self.acked  # a receipt has had the whole wait to cover this
            self._receipt_moved.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._receipt_moved.wait()
            except TimeoutError:
                if self.received < acked_before:
                    self.resends += 1
                    logger.warning("receipts_stuck_resending", receipt=self.received,
                                   acked=self.acked, waited_s=round(wait, 1))
                    resend()
                    wait = min(2 * wait, max(self.receipt_wait_s, RESEND_WAIT_MAX_S))
            else:
                wait = self.receipt_wait_s

    async def _save_cursor(self) -> None:
        """Writes the acknowledged cursor behind the drain, at most every CURSOR_EVERY_S,
        always the latest value. A cursor lost to a crash only costs re-sends (receivers
        drop them by id), so the drain never waits for this disk write, and a fast drain
        does not pay for one write per acknowledgement."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.cursors.advance(self.link, self.acked)
            await asyncio.sleep(CURSOR_EVERY_S)
