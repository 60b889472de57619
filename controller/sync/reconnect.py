"""One reconnect state machine, reused by every link (MQTT, HTTP, each serial bus).

Modelled on aioesphomeapi's reconnect_logic: explicit states, capped exponential backoff
with jitter, the longest wait at once after an authentication failure (retrying a wrong
password quickly only gets the hall banned), and logs that do not flood: the first failure
of a streak at WARNING, the repeats at DEBUG, the recovery at INFO.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum

import structlog

log = structlog.get_logger("reconnect")


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"


class AuthFailed(Exception):
    """The peer refused our credentials: wait the longest backoff before the next try."""


class Backoff:
    def __init__(self, base: float = 0.5, cap: float = 60.0, jitter: float = 0.2) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def next_delay(self, auth_failed: bool = False) -> float:
        self.failures += 1
        delay = self.cap if auth_failed else min(self.cap, self.base * 2 ** (self.failures - 1))
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.failures = 0


class ReconnectLogic:
    """Runs `session()` for as long as it lasts, again and again, waiting between failures.

    `session` connects and then serves the link until the link breaks (raising) or the
    logic is stopped (cancelled). A session that ran for `stable_after` seconds resets the
    backoff, so a link that flaps once an hour reconnects quickly each time.
    """

    def __init__(self, name: str, session: Callable[[], Awaitable[None]],
                 backoff: Backoff | None = None, stable_after: float = 10.0) -> None:
        self.name = name
        self._session = session
        self.backoff = backoff or Backoff()
        self.stable_after = stable_after
        self.state = LinkState.DISCONNECTED
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self.connects = 0

    def mark_connected(self) -> None:
        """Called by the session once the link is up (after CONNACK, not before)."""
        self.state = LinkState.CONNECTED
        self.connected_since = time.monotonic()
        self.connects += 1
        if self.backoff.failures:
            log.info("link_restored", link=self.name, after_failures=self.backoff.failures)

    async def run(self) -> None:
        while True:
            self.state = LinkState.CONNECTING
            self.connected_since = None
            started = time.monotonic()
            auth_failed = False
            try:
                await self._session()
                error = "session ended"
            except asyncio.CancelledError:
                self.state = LinkState.DISCONNECTED
                raise
            except AuthFailed as exc:
                auth_failed = True
                error = f"authentication failed: {exc}"
            except Exception as exc:  # any failure of a link is retried, never fatal
                error = _describe(exc)
            if self.connected_since is not None and time.monotonic() - started >= self.stable_after:
                self.backoff.reset()
            self.last_error = error
            self.state = LinkState.BACKOFF
            delay = self.backoff.next_delay(auth_failed)
            if self.backoff.failures == 1:
                log.warning("link_down", link=self.name, error=error, retry_in=round(delay, 2))
            else:
                log.debug("link_still_down", link=self.name, error=error,
                          failures=self.backoff.failures, retry_in=round(delay, 2))
            await asyncio.sleep(delay)


def _describe(exc: BaseException) -> str:
    """What went wrong, for `last_error`: the first real error inside a task group's
    ExceptionGroup, not "unhandled errors in a TaskGroup"."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
