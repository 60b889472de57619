"""Per-device health: online, offline or degraded, with when it was last heard and why not.

Kept per device, not per port, so one silent or babbling address on a shared RS-485 bus is
reported as itself and never takes its neighbours down with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # nothing heard: unplugged, powered off, port gone
    DEGRADED = "degraded"  # it answers, but with frames we cannot read


@dataclass(slots=True)
class Health:
    offline_after: int = 3
    status: Status = Status.OFFLINE
    last_seen: float | None = None  # wall-clock time of the last good frame
    last_error: str | None = None
    misses: int = 0
    bad_frames: int = 0
    good_frames: int = 0

    def ok(self) -> None:
        self.status = Status.ONLINE
        self.last_seen = time.time()
        self.misses = 0
        self.good_frames += 1

    def garbage(self, why: str) -> None:
        self.status = Status.DEGRADED
        self.bad_frames += 1
        self.misses = 0
        self.last_error = why

    def miss(self, why: str = "no answer") -> None:
        self.misses += 1
        self.last_error = why
        if self.misses >= self.offline_after:
            self.status = Status.OFFLINE

    def down(self, why: str) -> None:
        self.status = Status.OFFLINE
        self.last_error = why
