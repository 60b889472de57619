"""The SQLite schema and its migrations, one numbered step each, tracked in user_version.

A migration is never edited once released: add a new step. Each step runs in the same
transaction as the user_version bump, so a crash mid-migration leaves the old version.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the event log, idempotency answers, API tokens.
    ("""
    CREATE TABLE events (
        seq   INTEGER PRIMARY KEY,          -- gapless, assigned by the single writer
        id    TEXT    NOT NULL UNIQUE,      -- UUIDv7, for de-duplication downstream
        ts    REAL    NOT NULL,             -- epoch seconds of the decision
        type  TEXT    NOT NULL,
        data  TEXT    NOT NULL,             -- JSON payload
        actor TEXT                          -- token id or 'system'
    )""",
    "CREATE INDEX events_type ON events(type)",
    """
    CREATE TABLE idempotency (
        principal   TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status      INTEGER NOT NULL,
        body        TEXT NOT NULL,
        created     REAL NOT NULL,
        PRIMARY KEY (principal, key)
    )""",
    """
    CREATE TABLE tokens (
        id      TEXT PRIMARY KEY,
        hash    TEXT NOT NULL UNIQUE,       -- sha256 of the token, never the token
        role    TEXT NOT NULL,
        window  INTEGER,
        created REAL NOT NULL,
        revoked REAL
    )"""),
    # 2: how far each cloud link has been acknowledged: the outbox is a cursor, not a copy.
    ("""
    CREATE TABLE sync_cursors (
        link    TEXT PRIMARY KEY,           -- 'mqtt', 'haochaping', ...
        seq     INTEGER NOT NULL,           -- every event up to here is acknowledged
        updated REAL NOT NULL
    )""",),
    # 3: pseudonymous fields (identity hashes) in their own column, so the stored payload
    # is the public one and the uplink sends it as it is. Existing rows are split here.
    (
        "ALTER TABLE events ADD COLUMN private TEXT",
        """UPDATE events
           SET private = json_object('identity_hash', json_extract(data, '$.identity_hash')),
               data = json_remove(data, '$.identity_hash')
           WHERE json_extract(data, '$.identity_hash') IS NOT NULL""",
    ),
    # 4: ID numbers the review system needs in clear (certkeyGOV), sealed (AES-GCM) per
    # ticket, kept only until the report is acknowledged: store/sealed.py. Never in the log.
    ("""
    CREATE TABLE sealed_identities (
        ticket_id TEXT PRIMARY KEY,
        nonce     BLOB NOT NULL,
        box       BLOB NOT NULL,            -- AES-256-GCM of the ID number, bound to ticket_id
        created   REAL NOT NULL
    )""",),
)

SCHEMA_VERSION = len(MIGRATIONS)

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a committed (and so acknowledged) event survives a power cut, not only a crash.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


class SchemaError(Exception):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    """Bring a database to SCHEMA_VERSION; returns the version it was at."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"database schema {version} is newer than this program's {SCHEMA_VERSION}: "
            "upgrade hall-controller, do not downgrade it"
        )
    for number in range(version, SCHEMA_VERSION):
        # executescript would COMMIT first; run the statements in an explicit transaction.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            # On some errors (a full disk, an I/O error) SQLite has rolled the transaction
            # back already: a ROLLBACK then fails, and its error would hide the real one.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return int(version)


def open_sync(path: str, create: bool = True) -> sqlite3.Connection:
    """A plain connection for the CLI and the start-up checks, migrated and tuned.
    `create=False`: an existing database only (read/write), never a new empty file."""
    if create:
        conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    else:
        uri = f"{Path(path).absolute().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, isolation_level=None, timeout=5.0, uri=True)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def explain(db: Path, exc: sqlite3.Error) -> str:
    """SQLite's error, with the likely reason when it could not open the file at all: a
    read-only directory, where SQLite cannot make the -wal and -shm files it needs."""
    text = str(exc)
    if (isinstance(exc, sqlite3.OperationalError) and "unable to open" in text
            and db.parent.is_dir() and not os.access(db.parent, os.W_OK)):
        text += (f" ({db.parent} is read-only: SQLite writes its -wal and -shm files beside "
                 "the database)")
    return text
