"""Per-link cursors over the event log, on their own SQLite connection.

The writer's connection belongs to the writer task; acknowledgements arrive on the sync
tasks, so they write here instead, in their own short transactions (WAL lets both be).
"""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite

from controller.store.eventlog import DB_NAME
from controller.store.schema import PRAGMAS


class CursorStore:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, data_dir: Path) -> CursorStore:
        conn = await aiosqlite.connect(str(data_dir / DB_NAME), isolation_level=None)
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        # Not FULL: a cursor lost in a power cut only means events are sent again, and
        # receivers de-duplicate them; an fsync per acknowledgement would halve the drain.
        await conn.execute("PRAGMA synchronous=NORMAL")
        return cls(conn)

    async def get(self, link: str) -> int:
        async with self._conn.execute("SELECT seq FROM sync_cursors WHERE link = ?", (link,)) as c:
            row = await c.fetchone()
        return int(row[0]) if row else 0

    async def advance(self, link: str, seq: int) -> None:
        """Once this returns, a restart resumes after `seq` (unless the power fails in the
        next moment: then a little earlier, which costs re-sends only). Never moves back."""
        await self._conn.execute(
            "INSERT INTO sync_cursors(link, seq, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(link) DO UPDATE SET seq = MAX(seq, excluded.seq), updated = excluded.updated",
            (link, seq, time.time()),
        )

    async def reset(self, link: str) -> None:
        """Forget a link's progress (everything is sent again): for benchmarks and for an
        operator re-seeding a new cloud."""
        await self._conn.execute("DELETE FROM sync_cursors WHERE link = ?", (link,))

    async def close(self) -> None:
        await self._conn.close()
