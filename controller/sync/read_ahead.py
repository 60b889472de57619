"""The uplink's read-ahead: a thread of its own reads wire batches from the log into a
bounded queue while earlier batches are on the wire.

Why a free-running thread, not a read awaited from the event loop: the reader then never
waits for the loop to come round and ask for the next chunk, and the loop is woken only
when the queue goes from empty to not empty (bench/sync_drain.py: the drain went from
0.50 to about 0.75 of a plain publisher's rate, with the loop's CPU back to the plain
publisher's). Memory stays bounded whatever the backlog: at most `AHEAD` batches wait.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from controller.store.wire import WireBatch

# Batches waiting at most, as read: memory is bounded by AHEAD x batch_max_events events,
# not by the backlog (a batch cut to the byte budget becomes several smaller ones).
AHEAD = 20
CHUNK = 10  # batches read per statement (store.wire): the GIL is taken back twice a chunk


class BatchReader(Protocol):
    """Blocking reads of wire batches, on the thread that opened it."""

    def read(self, after: int, limit: int, count: int,
             max_bytes: int | None = None) -> list[WireBatch]: ...

    def close(self) -> None: ...


class WireSource(Protocol):
    """Where the drain reads: the event log, or batches held in memory when
    bench/sync_drain.py measures the drain without SQLite."""

    def open_wire_reader(self) -> BatchReader: ...


class ReadAhead:
    """Started for one drain session from `after`; `take` hands out the batches in seq
    order, `more` says new events were committed, `stop` ends the thread.

    The thread waits while more than AHEAD - CHUNK batches are queued, so the queue holds
    at most AHEAD batches' worth of events; it reads 1, 2, 4... batches at first so the first publish does not wait
    for a whole chunk. Once it has found the end of the log, it waits `linger_s` after
    the next commit is announced before reading, so the events of those moments go up as
    one batch (batching by time; a backlog is read without waiting). A failed read is
    kept in `error` and wakes the loop; the session ends and the next one starts a new
    reader from the cursor."""

    def __init__(self, source: WireSource, after: int, limit: int,
                 on_ready: Callable[[], None], max_bytes: int | None = None,
                 linger_s: float = 0.0) -> None:
        self.error: BaseException | None = None
        self._source = source
        self._limit = limit
        self._max_bytes = max_bytes  # the events of one batch, in bytes, at most
        self._linger = linger_s  # after finding the end, how long new events may gather
        self._on_ready = on_ready
        self._loop = asyncio.get_running_loop()
        self._ready: deque[WireBatch] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._more = True  # read at least once
        self._thread = threading.Thread(target=self._run, args=(after,),
                                        name="hall-uplink-reader", daemon=True)
        self._thread.start()

    def take(self) -> WireBatch | None:
        """The next batch, or None if none is read yet (`on_ready` is called when one is).
        Called from the event loop only."""
        try:
            batch = self._ready.popleft()
        except IndexError:
            return None
        if len(self._ready) == AHEAD - CHUNK:  # room for a chunk: the reader may go on
            with self._cond:
                self._cond.notify()
        return batch

    @property
    def queued(self) -> int:
        return len(self._ready)

    def more(self) -> None:
        """New events were committed: a reader that found the end reads again."""
        with self._cond:
            self._more = True
            self._cond.notify()

    def halt(self) -> None:
        """Tells the thread to end after the read it is in, if any; does not wait."""
        with self._cond:
            self._stopped = True
            self._cond.notify()

    async def stop(self) -> None:
        """Ends the thread and waits for it."""
        self.halt()
        await asyncio.to_thread(self._thread.join)

    def _wake_loop(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._on_ready)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _run(self, after: int) -> None:
        try:
            reader = self._source.open_wire_reader()
            try:
                self._read_loop(reader, after)
            finally:
                reader.close()
        except BaseException as exc:  # handed to the drain, which ends the session
            self.error = exc
            self._wake_loop()

    def _read_loop(self, reader: BatchReader, after: int) -> None:
        count = 1
        idle = False  # the last read found the end of the log
        while True:
            with self._cond:
                while not self._stopped and (len(self._ready) > AHEAD - CHUNK
                                             or not self._more):
                    self._cond.wait()
                if idle and self._linger > 0:
                    # Batching by time: the commits of the next moments join this batch.
                    until = time.monotonic() + self._linger
                    while not self._stopped and (left := until - time.monotonic()) > 0:
                        self._cond.wait(left)
                if self._stopped:
                    return
                # Cleared before the read: a commit during it sets it again.
                self._more = False
            batches = reader.read(after, self._limit, count, self._max_bytes)
            idle = not batches
            if idle:
                continue  # the end of the log: wait for `more`
            with self._cond:
                self._more = True  # not at the end yet: go on reading
            self._ready.extend(batches)
            after = batches[-1].last_seq
            count = min(2 * count, CHUNK)
            # The loop waits for a batch only when the queue was empty; otherwise a
            # publish in flight will wake it.
            if len(self._ready) == len(batches):
                self._wake_loop()
