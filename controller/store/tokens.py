"""API tokens: created by `hallctl token create`, kept only as a SHA-256 digest.

A token is a random secret, so a plain (unsalted, fast) digest is enough: there is nothing
to guess. The daemon looks tokens up by digest and never sees them stored in clear.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from controller.store.eventlog import DB_NAME
from controller.store.schema import open_sync


class Role(StrEnum):
    KIOSK = "kiosk"
    CLERK = "clerk"
    PAD = "pad"  # a window's evaluation pad: rates that window's last service
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


WINDOW_BOUND = frozenset({Role.CLERK, Role.PAD})


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    role: Role
    window: int | None = None


class TokenError(Exception):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(data_dir: Path, role: str, window: int | None,
                 known_windows: set[int] | None = None) -> tuple[str, str]:
    """Store a new token's digest; returns (token id, token). The token is shown once."""
    try:
        role_ = Role(role)
    except ValueError:
        raise TokenError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if role_ in WINDOW_BOUND and window is None:
        raise TokenError(f"a {role_.value} token is bound to one window: give --window N")
    if role_ not in WINDOW_BOUND and window is not None:
        raise TokenError("--window is only for clerk and pad tokens")
    if window is not None and known_windows is not None and window not in known_windows:
        raise TokenError(f"no window {window} in this hall")
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "hc_" + secrets.token_urlsafe(32)
    token_id = uuid.uuid4().hex[:12]
    conn = open_sync(str(data_dir / DB_NAME))
    try:
        conn.execute(
            "INSERT INTO tokens(id, hash, role, window, created) VALUES (?,?,?,?,?)",
            (token_id, digest(token), role_.value, window, time.time()),
        )
    finally:
        conn.close()
    return token_id, token


def list_tokens(data_dir: Path) -> list[tuple[str, str, int | None, float, float | None]]:
    """(id, role, window, created, revoked) of every token; the tokens themselves are
    not stored and cannot be listed. The database must exist: none is created here."""
    conn = open_sync(str(data_dir / DB_NAME), create=False)
    try:
        rows = conn.execute(
            "SELECT id, role, window, created, revoked FROM tokens ORDER BY created").fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def revoke_token(data_dir: Path, token_id: str) -> bool:
    """Marks a token revoked; False if no such (unrevoked) token. A running daemon stops
    accepting it within its cache time (controller/web/auth.py). The database must exist."""
    conn = open_sync(str(data_dir / DB_NAME), create=False)
    try:
        cur = conn.execute("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                           (time.time(), token_id))
        return cur.rowcount == 1
    finally:
        conn.close()
