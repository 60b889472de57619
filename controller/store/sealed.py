"""ID numbers (and names) held for the provincial review system, sealed, until reported.

The review record's `certkeyGOV` is the citizen's full ID number, `userName` the name
(DOMAIN.md); the name is known only from a swiped ID card. Everything
else in the hall keeps a keyed hash, which cannot give the number back. So when a ticket
is taken with an ID number and real-name reporting is on, the number is sealed here:
AES-256-GCM under `seal.key`, with the ticket id as associated data (a box moved to another
row does not open). The review uplink opens it to fill the report and erases it once the
review system has acknowledged the report; a ticket never rated is erased after the
retention time. The event log never holds it. Rows are deleted with `secure_delete`, so the
freed pages are zeroed, not left holding the ciphertext.

Why `cryptography`'s AESGCM: an authenticated cipher from the maintained, audited library
every Python distribution ships wheels of; docs/dependencies.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.store.eventlog import DB_NAME, ThreadConnection
from controller.store.keys import SEAL_KEY_NAME, load_or_create_key
from controller.store.schema import open_sync

_COUNT = "SELECT COUNT(*) FROM sealed_identities"


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a box holds, opened: for a report, never for a log (its repr says nothing)."""

    number: str
    name: str | None = None

    def __repr__(self) -> str:
        return "Sealed(...)"


class SealedIdentities:
    def __init__(self, conn: ThreadConnection, key: bytes) -> None:
        self._conn = conn
        self._aead = AESGCM(key)

    @classmethod
    async def open(cls, data_dir: Path) -> SealedIdentities:
        conn = ThreadConnection(data_dir / DB_NAME)
        await conn.open()
        await conn.query("PRAGMA secure_delete=ON")
        return cls(conn, load_or_create_key(data_dir, SEAL_KEY_NAME))

    async def close(self) -> None:
        await self._conn.close()

    async def seal(self, ticket_id: str, id_number: str, name: str | None = None,
                   at: float | None = None) -> None:
        nonce = os.urandom(12)
        plain = json.dumps({"number": id_number, "name": name}, ensure_ascii=False)
        box = self._aead.encrypt(nonce, plain.encode("utf-8"), ticket_id.encode())
        await self._conn.transaction([(
            "INSERT OR REPLACE INTO sealed_identities(ticket_id, nonce, box, created) "
            "VALUES (?, ?, ?, ?)", [(ticket_id, nonce, box, time.time() if at is None else at)])])

    async def unseal(self, ticket_id: str) -> Sealed | None:
        """The ID number (and name) taken with this ticket, or None (none taken, erased, or
        a box that does not open under this hall's key: the report simply goes anonymous)."""
        rows = await self._conn.query(
            "SELECT nonce, box FROM sealed_identities WHERE ticket_id = ?", (ticket_id,))
        if not rows:
            return None
        nonce, box = rows[0]
        try:
            held = json.loads(self._aead.decrypt(nonce, box, ticket_id.encode()))
            return Sealed(str(held["number"]), held.get("name") or None)
        except (InvalidTag, ValueError, KeyError, TypeError):
            return None

    async def erase(self, ticket_id: str) -> None:
        await self._conn.transaction([
            ("DELETE FROM sealed_identities WHERE ticket_id = ?", [(ticket_id,)])])

    async def erase_before(self, before: float) -> int:
        """Erase what was sealed before `before` (tickets never rated): how many."""
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM sealed_identities WHERE created < ?",
                                (before,)).rowcount
        return await self._conn.run(run)

    async def count(self) -> int:
        (row,) = await self._conn.query(_COUNT)
        return int(row[0])


# For `hallctl identities`, the daemon running or not (WAL; the daemon looks a number up
# each time it reports). Like store/tokens.py: plain connections, no key needed, and an
# existing database only (a missing one is not created).

def held(data_dir: Path) -> int:
    conn = open_sync(str(data_dir / DB_NAME), create=False)
    try:
        (count,) = conn.execute(_COUNT).fetchone()
        return int(count)
    finally:
        conn.close()


def erase_all(data_dir: Path) -> int:
    """Erase every sealed number now: the freed pages zeroed, the log's copies too."""
    conn = open_sync(str(data_dir / DB_NAME), create=False)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        erased = int(conn.execute("DELETE FROM sealed_identities").rowcount)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return erased
    finally:
        conn.close()
