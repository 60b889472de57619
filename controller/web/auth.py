"""Bearer tokens and roles: who may do what.

Tokens found valid are cached by digest for CACHE_S seconds, so the hot path (a kiosk
issuing tickets) costs a dict lookup, not a database read, and a token revoked with
`hallctl token revoke` stops working within that time. Unknown tokens are looked up every
time: a token created with `hallctl token create` while the daemon runs works at once.
"""

from __future__ import annotations

import time

from aiohttp import web

from controller.store.eventlog import EventLog
from controller.store.tokens import Principal, Role, digest
from controller.web.errors import ApiError

WINDOW_ROLES = frozenset({Role.CLERK, Role.SUPERVISOR, Role.ADMIN})
ISSUE_ROLES = frozenset({Role.KIOSK, Role.SUPERVISOR, Role.ADMIN})
READ_ALL_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
ANY_ROLE = frozenset(Role)
CACHE_S = 10.0


class Authenticator:
    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def principal(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "the Authorization header must be Bearer TOKEN")
        token = token.strip()
        if not (token.isascii() and token.isprintable()):
            # Every token is printable ASCII (hallctl makes them): anything else, undecodable
            # bytes included, is unknown without hashing it or asking the database.
            raise ApiError(401, "unauthorized", "unknown or revoked token")
        key = digest(token)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[1] < CACHE_S:
            return cached[0]
        row = await self._log.token_by_hash(key)
        if row is None:
            self._cache.pop(key, None)
            raise ApiError(401, "unauthorized", "unknown or revoked token")
        found = Principal(row[0], Role(row[1]), row[2])
        self._cache[key] = (found, now)
        return found

    async def require(self, request: web.Request, roles: frozenset[Role],
                      window: int | None = None) -> Principal:
        return self.check(await self.principal(request), roles, window)

    @staticmethod
    def check(who: Principal, roles: frozenset[Role], window: int | None = None) -> Principal:
        if who.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise ApiError(403, "forbidden", f"a {who.role.value} token cannot do this ({allowed})")
        if who.role is Role.CLERK and window is not None and who.window != window:
            raise ApiError(403, "forbidden", f"this clerk token is for window {who.window}")
        return who
