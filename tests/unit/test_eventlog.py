"""The SQLite event log: append, read and replay; schema migrations; the check at open.

Everything runs against real SQLite files in a temporary directory; corruption is made
by editing the file's bytes the way a failing disk would.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.store import schema
from controller.store.eventlog import DB_NAME, Envelope, EventLog, IdempotencyRow, StoreError
from controller.store.schema import SCHEMA_VERSION, SchemaError, migrate, open_sync
from controller.store.tokens import create_token, digest

pytestmark = pytest.mark.timeout(60)


def env(seq: int, type_: str = "ticket.issued", **data: object) -> Envelope:
    return Envelope(seq, f"0190-{seq:06d}", 1_800_000_000.0 + seq, type_,
                    {"n": seq, "text": "不动产登记", **data}, "kiosk-1" if seq % 2 else None)


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EventLog]:
    opened = await EventLog.open(tmp_path)
    yield opened
    await opened.close()


# ---- append, read, replay ---------------------------------------------------------------

async def test_open_creates_the_schema_in_an_empty_directory(tmp_path: Path) -> None:
    log = await EventLog.open(tmp_path)
    try:
        assert await log.last_seq() == 0
        assert await log.read() == []
    finally:
        await log.close()
    path = tmp_path / DB_NAME
    assert user_version(path) == SCHEMA_VERSION
    assert {"events", "idempotency", "tokens"} <= tables(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_both_connections_commit_with_synchronous_full(log: EventLog) -> None:
    assert await log._writer.query("PRAGMA synchronous") == [(2,)]  # FULL
    assert await log._writer.query("PRAGMA journal_mode") == [("wal",)]
    async with log._reader.execute("PRAGMA synchronous") as cur:
        assert (await cur.fetchone()) == (2,)
    async with log._reader.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone()) == ("wal",)


async def test_append_then_read_and_replay(log: EventLog) -> None:
    first = [env(1), env(2, "window.opened", window=3)]
    second = [env(3), env(4), env(5, "ticket.called", window=1)]
    await log.append(first, [])
    await log.append(second, [])
    everything = first + second
    assert await log.last_seq() == 5
    assert await log.read() == everything  # JSON payloads, actors and times round-trip
    assert await log.read(after=2, limit=2) == everything[2:4]
    assert await log.read(after=5) == []
    replayed = [e async for e in log.replay(chunk=2)]
    assert replayed == everything


async def test_a_group_is_all_or_nothing(log: EventLog) -> None:
    await log.append([env(1), env(2)], [])
    answer = IdempotencyRow("tok", "k1", "fp", 201, '{"number":"A003"}', 1.0)
    # seq 3 is fine, but seq 2 exists already: the whole group must be refused.
    with pytest.raises(StoreError, match="event log write failed"):
        await log.append([env(3), Envelope(2, "other-id", 1.0, "x", {}, None)], [answer])
    assert await log.last_seq() == 2
    assert await log.idempotency_since(0) == []
    # The connection is usable afterwards (the transaction was rolled back, not left open).
    await log.append([env(3)], [answer])
    assert [e.seq for e in await log.read()] == [1, 2, 3]


async def test_duplicate_event_ids_are_refused(log: EventLog) -> None:
    await log.append([env(1)], [])
    with pytest.raises(StoreError):
        await log.append([Envelope(2, env(1).id, 2.0, "x", {}, None)], [])
    assert await log.last_seq() == 1


async def test_idempotency_answers_are_kept_replaced_and_pruned(log: EventLog) -> None:
    old = IdempotencyRow("tok", "k-old", "fp", 201, "{}", 100.0)
    new = IdempotencyRow("tok", "k-new", "fp", 200, '{"a":1}', 200.0)
    await log.append([], [old, new])
    assert sorted(await log.idempotency_since(0), key=lambda r: r.key) == [new, old]
    assert await log.idempotency_since(150.0) == [new]
    replaced = IdempotencyRow("tok", "k-new", "fp2", 409, '{"b":2}', 210.0)
    await log.append([], [replaced])
    assert await log.idempotency_since(150.0) == [replaced]
    await log.prune_idempotency(150.0)
    assert await log.idempotency_since(0) == [replaced]
    assert await log.last_seq() == 0  # answers are not events


async def test_tokens_are_found_by_digest_until_revoked(tmp_path: Path) -> None:
    token_id, token = create_token(tmp_path, "clerk", 3)
    log = await EventLog.open(tmp_path)
    try:
        assert await log.token_by_hash(digest(token)) == (token_id, "clerk", 3)
        assert await log.token_by_hash(digest(token + "x")) is None
        conn = sqlite3.connect(tmp_path / DB_NAME)
        conn.execute("UPDATE tokens SET revoked = 1.0 WHERE id = ?", (token_id,))
        conn.commit()
        conn.close()
        assert await log.token_by_hash(digest(token)) is None
    finally:
        await log.close()


async def test_a_reopened_log_holds_what_was_committed(tmp_path: Path) -> None:
    log = await EventLog.open(tmp_path)
    await log.append([env(1), env(2)], [])
    await log.close()
    log = await EventLog.open(tmp_path)
    try:
        assert await log.read() == [env(1), env(2)]
    finally:
        await log.close()


# ---- migrations -------------------------------------------------------------------------

def test_migrate_from_an_empty_database_then_nothing_to_do(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        assert migrate(conn) == 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert migrate(conn) == SCHEMA_VERSION  # idempotent: a second run changes nothing
    finally:
        conn.close()


async def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this program"):
        await EventLog.open(tmp_path)
    assert user_version(path) == SCHEMA_VERSION + 1
    assert tables(path) == set()


def test_a_failing_migration_step_leaves_the_previous_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = schema.MIGRATIONS + (
        ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"),
    )
    monkeypatch.setattr(schema, "MIGRATIONS", steps)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(steps))
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn)
    finally:
        conn.close()
    assert user_version(path) == len(steps) - 1
    assert "half_done" not in tables(path)
    assert "events" in tables(path)


def test_open_sync_migrates_and_sets_wal(tmp_path: Path) -> None:
    conn = open_sync(str(tmp_path / "y.db"))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


# ---- the check at open ------------------------------------------------------------------

def _swap_first_two_cells_of_an_events_leaf(path: Path) -> None:
    """Swap two cell pointers on a table leaf page: rowids out of order, header intact."""
    raw = bytearray(path.read_bytes())
    page_size = struct.unpack(">H", raw[16:18])[0]
    for number in range(2, len(raw) // page_size + 1):
        base = (number - 1) * page_size
        cells = struct.unpack(">H", raw[base + 3:base + 5])[0]
        if raw[base] == 0x0D and cells >= 2:  # a table b-tree leaf with two cells or more
            a, b = raw[base + 8:base + 10], raw[base + 10:base + 12]
            raw[base + 8:base + 10], raw[base + 10:base + 12] = b, a
            path.write_bytes(bytes(raw))
            return
    raise AssertionError("no table leaf page found")


def _make_checkpointed_log(data_dir: Path, n: int) -> Path:
    path = data_dir / DB_NAME
    conn = open_sync(str(path))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events(seq, id, ts, type, data) VALUES (?,?,?,?,?)",
                     [(i, f"id-{i}", 1.0, "t", "{}") for i in range(1, n + 1)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


async def test_open_runs_a_quick_check_and_refuses_a_damaged_file(tmp_path: Path) -> None:
    path = _make_checkpointed_log(tmp_path, 200)
    _swap_first_two_cells_of_an_events_leaf(path)
    with pytest.raises(StoreError) as caught:
        await EventLog.open(tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert "integrity check failed" in message
    assert "out of order" in message


async def test_an_intact_file_passes_the_check(tmp_path: Path) -> None:
    _make_checkpointed_log(tmp_path, 200)
    log = await EventLog.open(tmp_path)
    try:
        assert await log.last_seq() == 200
    finally:
        await log.close()


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not an SQLite database, only junk\n" * 100)
    with pytest.raises(StoreError):
        await EventLog.open(tmp_path)
