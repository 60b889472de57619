"""Reading the log the way the uplink does: `store.wire` (batches built by SQLite, several
per statement, over seq ranges) and `sync.read_ahead` (a thread of its own filling a
bounded queue), on real SQLite files.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.store.eventlog import DB_NAME, Envelope, EventLog
from controller.store.ids import new_id
from controller.store.wire import PER_STATEMENT, WireBatch, WireReader, read_wire_chunk
from controller.sync import read_ahead as read_ahead_module
from controller.sync.protocol import event_json
from controller.sync.read_ahead import AHEAD, ReadAhead

pytestmark = pytest.mark.timeout(60)


def envelopes(first: int, count: int) -> list[Envelope]:
    return [Envelope(seq, new_id(), 1_800_000_000.123 + seq, "ticket.issued",
                     {"number": f"A{seq % 1000:03d}", "note": "号\"\\", "n": seq,
                      "identity_hash": "never sent"})
            for seq in range(first, first + count)]


def wire(events: list[Envelope]) -> bytes:
    return ",".join(json.dumps(event_json(e), ensure_ascii=False, separators=(",", ":"))
                    for e in events).encode()


async def write(data_dir: Path, events: list[Envelope]) -> None:
    log = await EventLog.open(data_dir)
    try:
        await log.append(events, [])
    finally:
        await log.close()


@pytest.fixture(scope="module")
def log_of_90() -> Iterator[tuple[Path, list[Envelope]]]:
    with tempfile.TemporaryDirectory() as tmp:
        events = envelopes(1, 90)
        asyncio.run(write(Path(tmp), events))
        yield Path(tmp) / DB_NAME, events


@settings(max_examples=60, deadline=None)
@given(after=st.integers(0, 95), limit=st.integers(1, 40), count=st.integers(1, 40))
def test_a_chunk_is_the_events_after_the_cursor_cut_into_batches(
        log_of_90: tuple[Path, list[Envelope]], after: int, limit: int, count: int) -> None:
    path, events = log_of_90
    conn = sqlite3.connect(path)
    try:
        got = read_wire_chunk(conn, after, limit, count)
    finally:
        conn.close()
    rest = events[after:]
    expected = [rest[i:i + limit] for i in range(0, len(rest), limit)][:count]
    assert got == [WireBatch(b[0].seq, b[-1].seq, wire(b)) for b in expected]


async def test_a_gap_in_the_seqs_makes_a_shorter_batch_and_is_stepped_over(
        tmp_path: Path) -> None:
    """seq is gapless as the writer assigns it; a log that has a hole anyway (an old copy
    mended by hand) loses nothing: the batches around the hole are shorter, and a hole
    wider than a whole statement's ranges is jumped."""
    events = envelopes(1, 10) + envelopes(15, 5) + envelopes(1000, 3)
    await write(tmp_path, events)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    try:
        got = read_wire_chunk(conn, 0, 4, 100)
        assert read_wire_chunk(conn, 1002, 4, 100) == []
    finally:
        conn.close()
    assert [(b.first_seq, b.last_seq) for b in got] == [
        (1, 4), (5, 8), (9, 10), (15, 16), (17, 19), (1000, 1002)]
    assert b",".join(b.events for b in got) == wire(events)


def test_limit_and_count_must_be_positive(log_of_90: tuple[Path, list[Envelope]]) -> None:
    reader = WireReader(log_of_90[0])
    try:
        with pytest.raises(ValueError, match="at least 1"):
            reader.read(0, 0, 1)
        assert len(reader.read(0, 1, PER_STATEMENT * 3)) == PER_STATEMENT * 3
    finally:
        reader.close()


class Source:
    """The log, counting the readers opened and optionally failing on the n-th read."""

    def __init__(self, path: Path, fail_on: int | None = None) -> None:
        self.path = path
        self.fail_on = fail_on
        self.reads = 0
        self.threads: set[str] = set()

    def open_wire_reader(self) -> Source.Reader:
        return Source.Reader(self, WireReader(self.path))

    class Reader:
        def __init__(self, source: Source, inner: WireReader) -> None:
            self.source = source
            self.inner = inner

        def read(self, after: int, limit: int, count: int,
                 max_bytes: int | None = None) -> list[WireBatch]:
            self.source.reads += 1
            self.source.threads.add(threading.current_thread().name)
            if self.source.reads == self.source.fail_on:
                raise sqlite3.OperationalError("disk I/O error")
            return self.inner.read(after, limit, count, max_bytes)

        def close(self) -> None:
            self.inner.close()


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EventLog]:
    opened = await EventLog.open(tmp_path)
    yield opened
    await opened.close()


async def take_all(ahead: ReadAhead, ready: asyncio.Event, until_seq: int,
                   most: list[int]) -> list[WireBatch]:
    """Takes batches as they come, slowly, noting the most ever queued."""
    taken: list[WireBatch] = []
    async with asyncio.timeout(20):
        while not taken or taken[-1].last_seq < until_seq:
            ready.clear()
            most.append(ahead.queued)
            batch = ahead.take()
            if batch is None:
                await ready.wait()
                continue
            taken.append(batch)
            await asyncio.sleep(0.0005)
    return taken


async def test_the_queue_stays_bounded_and_hands_out_every_batch_in_order(
        log: EventLog) -> None:
    events = envelopes(1, 3000)
    await log.append(events, [])
    source = Source(log.path)
    ready = asyncio.Event()
    ahead = ReadAhead(source, 0, 7, ready.set)
    most: list[int] = []
    try:
        taken = await take_all(ahead, ready, 3000, most)
    finally:
        await ahead.stop()
    assert b",".join(b.events for b in taken) == wire(events)
    assert max(most) <= AHEAD
    assert max(most) >= AHEAD - read_ahead_module.CHUNK  # it did read ahead
    assert source.threads == {"hall-uplink-reader"}


async def test_events_committed_after_the_end_are_read_when_announced(log: EventLog) -> None:
    await log.append(envelopes(1, 5), [])
    source = Source(log.path)
    ready = asyncio.Event()
    ahead = ReadAhead(source, 0, 100, ready.set)
    try:
        first = await take_all(ahead, ready, 5, [])
        await asyncio.sleep(0.05)
        reads = source.reads
        await asyncio.sleep(0.05)
        assert source.reads == reads  # at the end it waits, it does not poll
        later = envelopes(6, 3)
        await log.append(later, [])
        ahead.more()
        second = await take_all(ahead, ready, 8, [])
    finally:
        await ahead.stop()
    assert [(b.first_seq, b.last_seq) for b in first + second] == [(1, 5), (6, 8)]


async def test_a_failed_read_is_handed_to_the_loop_and_the_thread_ends(log: EventLog) -> None:
    await log.append(envelopes(1, 50), [])
    ready = asyncio.Event()
    ahead = ReadAhead(Source(log.path, fail_on=2), 0, 10, ready.set)
    async with asyncio.timeout(10):
        while ahead.error is None:
            ready.clear()
            ahead.take()
            await ready.wait()
    assert isinstance(ahead.error, sqlite3.OperationalError)
    await ahead.stop()
    assert not [t for t in threading.enumerate() if t.name == "hall-uplink-reader"]


async def test_stop_ends_a_reader_that_waits_for_room_or_for_events(log: EventLog) -> None:
    await log.append(envelopes(1, 500), [])
    ready = asyncio.Event()
    full = ReadAhead(Source(log.path), 0, 5, ready.set)  # 100 batches: the queue fills
    idle = ReadAhead(Source(log.path), 500, 5, ready.set)  # nothing after 500
    await asyncio.sleep(0.1)
    assert AHEAD - read_ahead_module.CHUNK < full.queued <= AHEAD and idle.queued == 0
    async with asyncio.timeout(5):
        await full.stop()
        await idle.stop()
    assert not [t for t in threading.enumerate() if t.name == "hall-uplink-reader"]


def with_notes(first: int, sizes: list[int]) -> list[Envelope]:
    return [Envelope(first + i, new_id(), 1_800_000_000.0 + i, "notice.posted",
                     {"text": "通" * size, "n": i}) for i, size in enumerate(sizes)]


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=40),
       limit=st.integers(1, 12), max_bytes=st.integers(50, 3000))
def test_batches_are_cut_to_the_byte_budget_and_lose_nothing(
        sizes: list[int], limit: int, max_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        events = with_notes(1, sizes)
        asyncio.run(write(Path(tmp), events))
        reader = WireReader(Path(tmp) / DB_NAME)
        try:
            got = reader.read(0, limit, 100, max_bytes)
        finally:
            reader.close()
    assert b",".join(b.events for b in got) == wire(events)
    assert [b.first_seq for b in got] == [1] + [b.last_seq + 1 for b in got[:-1]]
    for batch in got:
        assert batch.last_seq - batch.first_seq + 1 <= limit
        alone = batch.first_seq == batch.last_seq
        assert alone or len(batch.events) <= max_bytes
        assert batch.events == wire(events[batch.first_seq - 1:batch.last_seq])


async def test_after_the_end_new_events_gather_for_the_linger_into_one_batch(
        log: EventLog) -> None:
    """Batching by time: once the reader has found the end, the first announced commit
    waits `linger_s` before the read, so what is committed meanwhile goes in the same
    batch. A backlog is not held back (the first read happens at once)."""
    await log.append(envelopes(1, 3), [])
    ready = asyncio.Event()
    ahead = ReadAhead(Source(log.path), 0, 100, ready.set, linger_s=0.3)
    try:
        first = await take_all(ahead, ready, 3, [])
        await asyncio.sleep(0.05)  # it has read again and found the end
        for seq in (4, 5, 6):
            await log.append(envelopes(seq, 1), [])
            ahead.more()
            await asyncio.sleep(0.05)
        later = await take_all(ahead, ready, 6, [])
    finally:
        await ahead.stop()
    assert [(b.first_seq, b.last_seq) for b in first + later] == [(1, 3), (4, 6)]


async def test_stop_cuts_a_linger_short(log: EventLog) -> None:
    ready = asyncio.Event()
    ahead = ReadAhead(Source(log.path), 0, 100, ready.set, linger_s=30)
    await asyncio.sleep(0.05)  # an empty log: it found the end
    await log.append(envelopes(1, 1), [])
    ahead.more()
    await asyncio.sleep(0.05)  # lingering now
    async with asyncio.timeout(5):
        await ahead.stop()
    assert ahead.queued == 0
