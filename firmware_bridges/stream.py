"""What every stream decoder shares: a buffer, counters, and a bound on what is kept.

A decoder is fed whatever bytes arrived (a read from a port may cut a frame anywhere) and
returns the complete frames found. It never raises on bad input: a bad frame is counted in
`stats.bad_frames`, the bytes skipped are counted in `stats.skipped_bytes`, and decoding
goes on from the next possible start of a frame (resynchronisation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StreamStats:
    frames: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    last_error: str | None = None

    def bad(self, reason: str, skipped: int) -> None:
        self.bad_frames += 1
        self.skipped_bytes += skipped
        self.last_error = reason


# No frame of any family we speak is longer than this; a buffer that grows past it without
# a frame is noise, and keeping it would let a babbling device eat the daemon's memory.
MAX_BUFFER = 16 * 1024
