"""store/sealed.py: ID numbers sealed per ticket, opened only with this hall's key and for
that ticket, erased for good."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.store.eventlog import DB_NAME, EventLog
from controller.store.keys import SEAL_KEY_NAME
from controller.store.sealed import SealedIdentities

NUMBER = "330102198001011234"


async def opened(data_dir: Path) -> SealedIdentities:
    log = await EventLog.open(data_dir)  # creates and migrates the database
    await log.close()
    return await SealedIdentities.open(data_dir)


async def test_sealed_opens_for_its_ticket_only_and_never_lies_in_clear(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    try:
        await store.seal("t1", NUMBER, "王小明", at=100.0)
        opened_box = await store.unseal("t1")
        assert opened_box is not None
        assert (opened_box.number, opened_box.name) == (NUMBER, "王小明")
        assert NUMBER not in repr(opened_box) and "王小明" not in repr(opened_box)
        assert await store.unseal("t2") is None
        assert (tmp_path / SEAL_KEY_NAME).stat().st_mode & 0o777 == 0o600
        raw = b"".join(p.read_bytes() for p in tmp_path.glob(DB_NAME + "*"))
        assert NUMBER.encode() not in raw and "王小明".encode() not in raw
        # A box moved to another ticket's row does not open there.
        conn = sqlite3.connect(tmp_path / DB_NAME)
        conn.execute("INSERT INTO sealed_identities SELECT 't2', nonce, box, created "
                     "FROM sealed_identities WHERE ticket_id = 't1'")
        conn.commit()
        conn.close()
        assert await store.unseal("t2") is None
    finally:
        await store.close()


async def test_another_key_opens_nothing(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    await store.seal("t1", NUMBER)
    await store.close()
    (tmp_path / SEAL_KEY_NAME).unlink()  # a new box, a new key: old reports go anonymous
    store = await SealedIdentities.open(tmp_path)
    try:
        assert await store.unseal("t1") is None
    finally:
        await store.close()


async def test_erase_and_erase_before(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    try:
        for i, at in enumerate((100.0, 200.0, 300.0)):
            await store.seal(f"t{i}", NUMBER, at=at)
        await store.erase("t1")
        assert await store.unseal("t1") is None and await store.count() == 2
        assert await store.erase_before(250.0) == 1
        assert await store.unseal("t0") is None
        kept = await store.unseal("t2")
        assert kept is not None and (kept.number, kept.name) == (NUMBER, None)
    finally:
        await store.close()
