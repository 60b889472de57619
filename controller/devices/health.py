"""Per-device health: online, offline or degraded, with when it was last heard and why not.

Kept per device, not per port, so one silent or babbling address on a shared RS-485 bus is
reported as itself and never takes its neighbours down with it.

Every change of the status a device shows is logged (`device_status_changed`: device,
from, to, reason), and malformed frames are logged rate-limited (`bad_frame`: at most one
line per device or bus every BAD_FRAME_LOG_INTERVAL_S, with the count since the last line),
so a babbling device cannot flood the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

log = structlog.get_logger("devices")

BAD_FRAME_LOG_INTERVAL_S = 60.0


class Status(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # nothing heard: unplugged, powered off, port gone
    DEGRADED = "degraded"  # it answers, but with frames we cannot read (or cannot show)


class BadFrameLog:
    """`bad_frame` lines for one source (a device or a bus): the first at once, then at
    most one per `interval` seconds, each with the count since the line before. Frames
    between two lines are counted, never lost: the next line carries them."""

    def __init__(self, interval: float = BAD_FRAME_LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.pending = 0
        self.last: float | None = None

    def note(self, reason: str, count: int = 1, **where: Any) -> None:
        self.pending += count
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return
        log.warning("bad_frame", **where, reason=reason, count=self.pending)
        self.pending = 0
        self.last = now


@dataclass(slots=True)
class Health:
    offline_after: int = 3
    device: str = ""  # the device id, for the log lines
    status: Status = Status.OFFLINE  # how it answers (the links act on this)
    last_seen: float | None = None  # wall-clock time of the last good frame
    last_error: str | None = None
    misses: int = 0
    bad_frames: int = 0
    good_frames: int = 0
    # what it should show cannot be shown as it is (a character its encoding lacks, a
    # line too long for a frame): it shows a placeholder or a cut line, and is reported
    # degraded while it answers well
    content_error: str | None = None
    frames_log: BadFrameLog = field(default_factory=BadFrameLog, repr=False, compare=False)

    @property
    def shown(self) -> Status:
        """The status reported (API, log): degraded too while its content is bad."""
        if self.status is Status.ONLINE and self.content_error:
            return Status.DEGRADED
        return self.status

    @property
    def reason(self) -> str | None:
        if self.status is Status.ONLINE and self.content_error:
            return self.content_error
        return self.last_error

    def ok(self, trouble: str | None = None) -> None:
        """A good answer; `trouble`: one that reports a problem the device knows of
        (paper out): it answers, but is degraded."""
        before = self.shown
        self.status = Status.DEGRADED if trouble else Status.ONLINE
        if trouble:
            self.last_error = trouble
        self.last_seen = time.time()
        self.misses = 0
        self.good_frames += 1
        self._moved(before, trouble or "answers")

    def garbage(self, why: str) -> None:
        """An answer that is no good (an error status, an unexpected frame)."""
        before = self.shown
        self.status = Status.DEGRADED
        self.bad_frames += 1
        self.misses = 0
        self.last_error = why
        self._moved(before, why)

    def bad_frame(self, why: str, count: int = 1) -> None:
        """Malformed bytes where its answer should be: counted and logged (rate-limited)."""
        before = self.shown
        self.status = Status.DEGRADED
        self.bad_frames += count
        self.misses = 0
        self.last_error = why
        self.frames_log.note(why, count, device=self.device)
        self._moved(before, why)

    def noise(self, why: str, count: int = 1) -> None:
        """Bytes nobody asked for (a late answer): logged like a bad frame, no status
        change (the answer to the question asked decides that)."""
        self.frames_log.note(why, count, device=self.device)

    def miss(self, why: str = "no answer") -> None:
        before = self.shown
        self.misses += 1
        self.last_error = why
        if self.misses >= self.offline_after:
            self.status = Status.OFFLINE
        self._moved(before, why)

    def down(self, why: str) -> None:
        before = self.shown
        self.status = Status.OFFLINE
        self.last_error = why
        self._moved(before, why)

    def content(self, problem: str | None) -> None:
        """What it should show cannot be shown as it is (`problem`), or can again (None).
        Logged once per problem, not once per frame."""
        if problem == self.content_error:
            return
        before = self.shown
        self.content_error = problem
        if problem:
            log.warning("device_content_unshowable", device=self.device, reason=problem)
        self._moved(before, problem or "its content can be shown again")

    def _moved(self, before: Status, why: str | None) -> None:
        after = self.shown
        if after is before:
            return
        emit = log.info if after is Status.ONLINE else log.warning
        emit("device_status_changed", device=self.device,
             **{"from": before.value, "to": after.value}, reason=why)
