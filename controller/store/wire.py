"""The event log read the way the cloud receives it: batches of events in their wire form,
built whole by SQLite, so the uplink never touches an event in Python.

Why it is shaped like this (bench/sync_drain.py has the figures):

- SQLite formats each event (`printf`, a quarter cheaper than `||` concatenations) and
  joins a batch (`group_concat`), all inside one `sqlite3_step`, during which the
  sqlite3 module lets go of the GIL.
- One statement reads several batches, one scalar subquery each, over seq ranges. The
  statement's row costs the reading thread two GIL hand-backs however many batches it
  holds; reading a batch per row made the reader wait for the event loop's thread to let
  go of the GIL twice a batch, and the drain ran at half the speed.
- Ranges rely on seq being gapless (the single writer assigns it and re-reads the last
  committed one after a failed commit), but a gap costs only a shorter batch: each batch
  says its own first and last seq, and a chunk that finds nothing looks for the next seq.

Safe to splice: `id` is a UUID and `type` a fixed name, both checked by
`EventLog.append`, and `data` is the JSON written by `encode_data`.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from controller.store.schema import PRAGMAS


@dataclass(frozen=True, slots=True)
class WireBatch:
    """Consecutive events in their wire form: JSON objects joined by commas, in seq order."""

    first_seq: int
    last_seq: int
    events: bytes


# One event's wire form (docs/cloud-protocol.md), built from its stored columns.
_WIRE_EVENT = ("""printf('{"seq":%d,"id":"%s","ts_ms":%d,"type":"%s","data":%s}', """
               """seq, id, CAST(ts * 1000 AS INTEGER), type, data)""")
# A range scan of the primary key gives the rows in seq order, and the aggregate takes
# them in that order; from SQLite 3.44 the order is also stated.
_IN_SEQ_ORDER = " ORDER BY seq" if sqlite3.sqlite_version_info >= (3, 44) else ""
# Batch k of a chunk: the events with seq in (?1 + k * ?2, ?1 + (k + 1) * ?2].
_RANGE = "FROM events WHERE seq > ?1 + {k} * ?2 AND seq <= ?1 + ({k} + 1) * ?2"
_BATCH = (f"(SELECT MIN(seq) {_RANGE}), (SELECT MAX(seq) {_RANGE}), "
          f"(SELECT CAST(group_concat({_WIRE_EVENT}, ','{_IN_SEQ_ORDER}) AS BLOB) {_RANGE})")
_NEXT_SEQ = "SELECT MIN(seq) FROM events WHERE seq > ?"
_EVENTS = (f"SELECT seq, CAST({_WIRE_EVENT} AS BLOB) FROM events "
           "WHERE seq >= ? AND seq <= ? ORDER BY seq")
PER_STATEMENT = 16  # batches a statement reads at most (three result columns each)


@functools.lru_cache(maxsize=PER_STATEMENT)
def _chunk_sql(count: int) -> str:
    return "SELECT " + ", ".join(_BATCH.replace("{k}", str(k)) for k in range(count))


def read_wire_chunk(conn: sqlite3.Connection, after: int, limit: int, count: int,
                    max_bytes: int | None = None) -> list[WireBatch]:
    """Up to `count` batches of up to `limit` events each, the events after `after` in
    seq order; empty when there is nothing after `after`. With `max_bytes`, a batch whose
    events take more bytes is cut into several that do not (an event bigger than that on
    its own makes a batch of one). Blocking: call it on a thread of its own."""
    if limit < 1 or count < 1:
        raise ValueError("limit and count must be at least 1")
    batches: list[WireBatch] = []
    read_count = 0
    while read_count < count:
        n = min(count - read_count, PER_STATEMENT)
        row = conn.execute(_chunk_sql(n), (after, limit)).fetchone()
        read = [WireBatch(row[i], row[i + 1], row[i + 2])
                for i in range(0, 3 * n, 3) if row[i] is not None]
        if read:
            read_count += len(read)
            for batch in read:
                if max_bytes is not None and len(batch.events) > max_bytes:
                    batches += _cut(conn, batch, max_bytes)
                else:
                    batches.append(batch)
            after = read[-1].last_seq
            continue
        # Nothing in the whole range: the end of the log, or a gap to step over.
        (following,) = conn.execute(_NEXT_SEQ, (after,)).fetchone()
        if following is None:
            break
        after = following - 1
    return batches


def _cut(conn: sqlite3.Connection, batch: WireBatch, max_bytes: int) -> list[WireBatch]:
    """The batch's events read one by one and joined again into batches of at most
    `max_bytes` (the rare case: a broker with a small maximum packet size, or long notes
    and comments), in seq order."""
    out: list[WireBatch] = []
    parts: list[bytes] = []
    first = last = size = 0
    for seq, wire in conn.execute(_EVENTS, (batch.first_seq, batch.last_seq)):
        if parts and size + 1 + len(wire) > max_bytes:
            out.append(WireBatch(first, last, b",".join(parts)))
            parts = []
        if parts:
            size += 1 + len(wire)
        else:
            first, size = seq, len(wire)
        parts.append(wire)
        last = seq
    if parts:
        out.append(WireBatch(first, last, b",".join(parts)))
    return out


class WireReader:
    """A connection of its own for one reading thread (`sync.read_ahead`): made, used and
    closed on that thread."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None)
        for pragma in PRAGMAS:
            self._conn.execute(pragma)

    def read(self, after: int, limit: int, count: int,
             max_bytes: int | None = None) -> list[WireBatch]:
        return read_wire_chunk(self._conn, after, limit, count, max_bytes)

    def close(self) -> None:
        self._conn.close()
