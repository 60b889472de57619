"""What every stream decoder shares: a buffer, counters, and a bound on what is kept.

A decoder is fed whatever bytes arrived (a read from a port may cut a frame anywhere) and
returns the complete frames found. It never raises on bad input: a bad frame is counted in
`stats.bad_frames`, the bytes skipped are counted in `stats.skipped_bytes`, and decoding
goes on from the next possible start of a frame (resynchronisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar


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


F = TypeVar("F")


class ResyncDecoder(Generic[F]):
    """The feed loop every framed family shares; a codec gives its start `marker` and
    `parse_at(buf, i)`: (frame, its length in bytes), "incomplete", or why it is bad.

    A bad frame is counted and one byte skipped; an incomplete candidate at the head waits
    for more bytes unless a complete valid frame further on proves it was noise (a
    corrupted length byte would otherwise hold back good frames behind it).
    """

    marker: bytes = b""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.stats = StreamStats()

    def parse_at(self, buf: bytearray, i: int) -> tuple[F, int] | str:
        raise NotImplementedError  # each codec's own framing

    def feed(self, data: bytes) -> list[F]:
        self.buffer += data
        out: list[F] = []
        while True:
            start = self.buffer.find(self.marker)
            if start < 0:
                self._drop_noise()
                break
            if start:
                self.stats.skipped_bytes += start
                del self.buffer[:start]
            result = self.parse_at(self.buffer, 0)
            if isinstance(result, tuple):
                frame, length = result
                out.append(frame)
                self.stats.frames += 1
                del self.buffer[:length]
                continue
            if result == "incomplete":
                later = self._later_valid()
                if later is None:
                    break
                self.stats.bad("truncated frame", later)
                del self.buffer[:later]
                continue
            self.stats.bad(result, 1)
            del self.buffer[:1]
        if len(self.buffer) > MAX_BUFFER:
            self.stats.bad("buffer overflow", len(self.buffer))
            self.buffer.clear()
        return out

    def _drop_noise(self) -> None:
        """No marker: keep only a tail that may be the first part of the next marker."""
        keep = next((n for n in range(min(len(self.marker) - 1, len(self.buffer)), 0, -1)
                     if self.buffer.endswith(self.marker[:n])), 0)
        dropped = len(self.buffer) - keep
        if dropped:
            self.stats.skipped_bytes += dropped
            del self.buffer[:dropped]

    def _later_valid(self) -> int | None:
        pos = self.buffer.find(self.marker, 1)
        while pos >= 0:
            if isinstance(self.parse_at(self.buffer, pos), tuple):
                return pos
            pos = self.buffer.find(self.marker, pos + 1)
        return None
