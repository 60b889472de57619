"""Named long-lived tasks, each restarted with capped exponential backoff when it fails.

One part failing (a device loop, the sync link) must never take the hall down; a part that
keeps failing is retried at most every `max_backoff` seconds and its first failure is
logged at ERROR with the traceback, repeats more quietly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("supervisor")


@dataclass(slots=True)
class Part:
    name: str
    factory: Callable[[], Awaitable[None]]
    restarts: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, base_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.parts: dict[str, Part] = {}
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff

    def start(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        part = Part(name, factory)
        self.parts[name] = part
        part.task = asyncio.create_task(self._keep(part), name=f"part:{name}")

    async def _keep(self, part: Part) -> None:
        failures = 0
        while True:
            try:
                await part.factory()
                log.warning("part_returned", part=part.name)  # parts run forever
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole point: one part's bug never stops the hall
                failures += 1
                part.last_error = f"{type(exc).__name__}: {exc}"
                if failures == 1:
                    log.exception("part_failed", part=part.name)
                else:
                    log.warning("part_failed_again", part=part.name, error=part.last_error,
                                failures=failures)
            part.restarts += 1
            delay = min(self.max_backoff, self.base_backoff * 2 ** max(0, failures - 1))
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def stop(self, names: list[str] | None = None) -> None:
        """Cancel the named parts (all by default) and wait until they have ended."""
        chosen = [self.parts[n] for n in names or list(self.parts) if n in self.parts]
        tasks = [p.task for p in chosen if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
