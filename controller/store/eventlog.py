"""The durable event log on SQLite (WAL, synchronous=FULL): the hall's only record.

Two connections: the writer's, used only by the single writer task for group commits, and
a reader's for API reads and token checks, which in WAL mode never blocks the writer.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from controller.core.events import PRIVATE_KEYS
from controller.store.schema import PRAGMAS, open_sync
from controller.store.wire import WireBatch, WireReader

DB_NAME = "hall.sqlite3"
T = TypeVar("T")
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_SAFE_TYPE = re.compile(r"[a-z][a-z_.]{0,63}")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A committed event as stored and streamed."""

    seq: int
    id: str
    ts: float
    type: str
    data: dict[str, Any]
    actor: str | None = None
    encoded: tuple[str, str | None] | None = field(default=None, repr=False, compare=False)

    def row(self) -> tuple[int, str, float, str, str, str | None, str | None]:
        public, private = self.encoded or encode_data(self.data)
        return (self.seq, self.id, self.ts, self.type, public, private, self.actor)


def _json(value: dict[str, Any]) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text.encode("utf-8")  # a lone surrogate passes json.dumps but not SQLite
    return text


def encode_data(data: dict[str, Any]) -> tuple[str, str | None]:
    """The payload as stored: (public JSON, private JSON or None). Pseudonymous fields go in
    their own column, so the public one can be sent as it is. Raises (ValueError,
    TypeError) for what SQLite cannot hold."""
    if PRIVATE_KEYS.isdisjoint(data):
        return _json(data), None
    return (_json({k: v for k, v in data.items() if k not in PRIVATE_KEYS}),
            _json({k: v for k, v in data.items() if k in PRIVATE_KEYS}))


def decode_data(public: str, private: str | None) -> dict[str, Any]:
    """An event's payload from its two stored columns (`encode_data` split it)."""
    data: dict[str, Any] = json.loads(public)
    if private:
        data.update(json.loads(private))
    return data


@dataclass(frozen=True, slots=True)
class IdempotencyRow:
    principal: str
    key: str
    fingerprint: str
    status: int
    body: str
    created: float


class StoreError(Exception):
    """The log could not be written; nothing of the batch was acknowledged."""


class StoreFull(StoreError):
    """The disk (or the configured `[store] max_size_mb`) is full: nothing of the batch was
    written. Nothing is ever evicted to make room: tickets and evaluations are the record."""


def _check_and_migrate(path: Path) -> None:
    try:
        conn = open_sync(str(path))
    except sqlite3.OperationalError as exc:
        # The file could not be opened or written (a full disk, no permission, locked, an
        # I/O error): nothing says the database is bad, so say what went wrong, only that.
        raise StoreError(f"{path}: cannot open the hall database: {exc}") from None
    except sqlite3.DatabaseError as exc:  # not a database, malformed: the file itself
        raise StoreError(f"{path}: not a usable hall database: {exc}") from None
    try:
        (result,) = conn.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise StoreError(f"{path}: integrity check failed: {result}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: integrity check failed: {exc}") from None
    finally:
        conn.close()


class ThreadConnection:
    """Plain sqlite3 on one thread of its own, for work that is many statements: each
    call is one thread hand-off, where aiosqlite makes one per statement.

    The writer's (a group commit is BEGIN, both inserts, COMMIT in one call: measured in
    bench/ticket_issue.py; only the single writer task uses it), and the sealed
    identities' (store/sealed.py)."""

    def __init__(self, path: Path) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hall-writer")
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise sqlite3.ProgrammingError("the connection is closed")
            return fn(self._conn)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def open(self, max_size_mb: int | None = None) -> None:
        def connect() -> None:
            conn = sqlite3.connect(str(self._path), isolation_level=None,
                                   check_same_thread=False)
            for pragma in PRAGMAS:
                conn.execute(pragma)
            if max_size_mb is not None:
                (page_size,) = conn.execute("PRAGMA page_size").fetchone()
                conn.execute(f"PRAGMA max_page_count={max_size_mb * 1024 * 1024 // page_size}")
            self._conn = conn
        await asyncio.get_running_loop().run_in_executor(self._pool, connect)

    async def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self.run(lambda conn: conn.execute(sql, params).fetchall())

    async def transaction(self, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Every statement with each of its parameter rows, or none of them."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in statements:
                    if rows:
                        conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite has rolled back already on some errors (FULL)
                    conn.execute("ROLLBACK")
                raise
        await self.run(run)

    async def close(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
        if self._conn is not None:
            await self.run(close)
            self._conn = None
        self._pool.shutdown(wait=True)


class EventLog:
    def __init__(self, path: Path, writer: ThreadConnection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader

    @classmethod
    async def open(cls, data_dir: Path, max_size_mb: int | None = None) -> EventLog:
        path = data_dir / DB_NAME
        await asyncio.to_thread(_check_and_migrate, path)
        writer = ThreadConnection(path)
        await writer.open(max_size_mb)
        reader = await aiosqlite.connect(str(path), isolation_level=None)
        for pragma in PRAGMAS:
            await reader.execute(pragma)
        return cls(path, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    async def append(self, events: Sequence[Envelope], answers: Sequence[IdempotencyRow]) -> None:
        """Commit one group: every event and idempotency answer, or none of them."""
        for e in events:
            if not (_SAFE_ID.fullmatch(e.id) and _SAFE_TYPE.fullmatch(e.type)):
                raise StoreError(f"refusing event {e.seq}: id and type must be plain names")
        try:
            await self._writer.transaction([
                ("INSERT INTO events(seq, id, ts, type, data, private, actor) "
                 "VALUES (?,?,?,?,?,?,?)", [e.row() for e in events]),
                ("INSERT OR REPLACE INTO idempotency"
                 "(principal, key, fingerprint, status, body, created) VALUES (?,?,?,?,?,?)",
                 [(a.principal, a.key, a.fingerprint, a.status, a.body, a.created)
                  for a in answers]),
            ])
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise StoreFull(f"the event log is full: {exc}") from exc
            raise StoreError(f"event log write failed: {exc}") from exc

    async def last_seq(self) -> int:
        async with self._reader.execute("SELECT COALESCE(MAX(seq), 0) FROM events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read(self, after: int = 0, limit: int = 1000) -> list[Envelope]:
        async with self._reader.execute(
            "SELECT seq, id, ts, type, data, private, actor FROM events WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [Envelope(r[0], r[1], r[2], r[3], decode_data(r[4], r[5]), r[6]) for r in rows]

    async def read_wire_batches(self, after: int, limit: int, count: int) -> list[WireBatch]:
        """Up to `count` batches of up to `limit` events each, the events after `after`
        as the cloud receives them (`store.wire`); empty when there is nothing after
        `after`. For one-off reads (tests, the bench): the uplink keeps a reader on a
        thread of its own (`open_wire_reader`)."""
        def once() -> list[WireBatch]:
            reader = WireReader(self.path)
            try:
                return reader.read(after, limit, count)
            finally:
                reader.close()
        return await asyncio.to_thread(once)

    def open_wire_reader(self) -> WireReader:
        """A blocking reader of wire batches with a connection of its own, for the thread
        that calls this (the uplink's read-ahead)."""
        return WireReader(self.path)

    async def replay(self, chunk: int = 5000) -> AsyncIterator[Envelope]:
        after = 0
        while True:
            batch = await self.read(after, chunk)
            if not batch:
                return
            for envelope in batch:
                yield envelope
            after = batch[-1].seq

    async def idempotency_since(self, since: float) -> list[IdempotencyRow]:
        async with self._reader.execute(
            "SELECT principal, key, fingerprint, status, body, created FROM idempotency "
            "WHERE created >= ?",
            (since,),
        ) as cur:
            rows = await cur.fetchall()
        return [IdempotencyRow(*r) for r in rows]

    async def prune_idempotency(self, before: float) -> None:
        await self._writer.transaction([("DELETE FROM idempotency WHERE created < ?",
                                         [(before,)])])

    async def token_by_hash(self, digest: str) -> tuple[str, str, int | None] | None:
        async with self._reader.execute(
            "SELECT id, role, window FROM tokens WHERE hash = ? AND revoked IS NULL", (digest,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else None
