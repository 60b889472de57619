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
PER_STATEMENT = 16  # batches a statement reads at most (three result columns each)


@functools.lru_cache(maxsize=PER_STATEMENT)
def _chunk_sql(count: int) -> str:
    return "SELECT " + ", ".join(_BATCH.replace("{k}", str(k)) for k in range(count))


def read_wire_chunk(conn: sqlite3.Connection, after: int, limit: int,
                    count: int) -> list[WireBatch]:
    """Up to `count` batches of up to `limit` events each, the events after `after` in
    seq order; empty when there is nothing after `after`. Blocking: call it on a thread
    of its own."""
    if limit < 1 or count < 1:
        raise ValueError("limit and count must be at least 1")
    batches: list[WireBatch] = []
    while len(batches) < count:
        n = min(count - len(batches), PER_STATEMENT)
        row = conn.execute(_chunk_sql(n), (after, limit)).fetchone()
        read = [WireBatch(row[i], row[i + 1], row[i + 2])
                for i in range(0, 3 * n, 3) if row[i] is not None]
        if read:
            batches += read
            after = read[-1].last_seq
            continue
        # Nothing in the whole range: the end of the log, or a gap to step over.
        (following,) = conn.execute(_NEXT_SEQ, (after,)).fetchone()
        if following is None:
            break
        after = following - 1
    return batches


class WireReader:
    """A connection of its own for one reading thread (`sync.read_ahead`): made, used and
    closed on that thread."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None)
        for pragma in PRAGMAS:
            self._conn.execute(pragma)

    def read(self, after: int, limit: int, count: int) -> list[WireBatch]:
        return read_wire_chunk(self._conn, after, limit, count)

    def close(self) -> None:
        self._conn.close()
