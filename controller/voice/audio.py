"""Audio for announcements: espeak-ng, or a hall's own recorded WAV segments.

Both produce one WAV file per announcement, repeats and gaps included, so the player only
ever plays one file at a time. WAV handling uses the standard library's `wave` module.
"""

from __future__ import annotations

import array
import asyncio
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

ESPEAK = "espeak-ng"


class VoiceError(Exception):
    """An announcement could not be rendered (missing program or segment, bad WAV)."""


@dataclass(frozen=True, slots=True)
class Pcm:
    """Mono or stereo signed PCM frames with their format."""

    channels: int
    width: int  # bytes per sample
    rate: int
    frames: bytes

    def silence(self, ms: int) -> bytes:
        return b"\x00" * (self.rate * ms // 1000) * self.channels * self.width


def read_wav(path: Path) -> Pcm:
    try:
        with wave.open(str(path), "rb") as w:
            return Pcm(w.getnchannels(), w.getsampwidth(), w.getframerate(),
                       w.readframes(w.getnframes()))
    except (wave.Error, EOFError, OSError) as exc:
        raise VoiceError(f"{path}: not a PCM WAV file ({exc})") from None


def write_wav(path: Path, fmt: Pcm, frames: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(fmt.channels)
        w.setsampwidth(fmt.width)
        w.setframerate(fmt.rate)
        w.writeframes(frames)
    tmp.replace(path)


def repeat_pcm(one: Pcm, times: int, gap_ms: int) -> bytes:
    """The announcement said `times` times with a gap after each."""
    gap = one.silence(gap_ms)
    return b"".join(one.frames + gap for _ in range(times))


def peak(pcm: Pcm) -> int:
    """The largest absolute 16-bit sample: 0 means silence. Used by tests and health."""
    if pcm.width != 2:
        raise VoiceError("only 16-bit WAV is measured")
    samples = array.array("h")
    samples.frombytes(pcm.frames[: len(pcm.frames) // 2 * 2])
    return max((abs(s) for s in samples), default=0)


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


async def espeak_wav(text: str, out: Path, voice: str = "cmn", speed: int = 150) -> Pcm:
    """Speaks `text` with espeak-ng into `out` and returns it. The text is passed as one
    argument (never through a shell) and comes only from the hall's templates and numbers."""
    if not espeak_available():
        raise VoiceError("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = await asyncio.create_subprocess_exec(
        ESPEAK, "-v", voice, "-s", str(speed), "-w", str(out), "--", text,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise VoiceError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace')}")
    return read_wav(out)


# Punctuation in a template becomes a short pause instead of a segment.
PAUSES = {"，": 250, ",": 250, "。": 400, "、": 200, " ": 150}


def split_segments(text: str, names: set[str]) -> list[str]:
    """Splits spoken text into the longest recorded segments, left to right: with 办理.wav
    and 办.wav both present, 办理 is one segment. A character with no recording is an error
    naming it, so a hall learns which file to record."""
    longest = max((len(n) for n in names), default=1)
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in PAUSES:
            out.append(text[i])
            i += 1
            continue
        for size in range(min(longest, len(text) - i), 0, -1):
            piece = text[i:i + size]
            if piece in names:
                out.append(piece)
                i += size
                break
        else:
            raise VoiceError(f"no recording for {text[i]!r}: add {text[i]}.wav to the segments")
    return out


def segments_pcm(text: str, folder: Path) -> Pcm:
    """Concatenates the hall's recordings for `text` (all must share one WAV format)."""
    files = {p.stem: p for p in folder.glob("*.wav")}
    if not files:
        raise VoiceError(f"{folder}: no .wav segments")
    fmt: Pcm | None = None
    parts: list[bytes | int] = []
    for seg in split_segments(text, set(files)):
        if seg in PAUSES and seg not in files:
            parts.append(PAUSES[seg])
            continue
        pcm = read_wav(files[seg])
        if fmt is None:
            fmt = pcm
        elif (pcm.channels, pcm.width, pcm.rate) != (fmt.channels, fmt.width, fmt.rate):
            raise VoiceError(f"{files[seg].name}: format differs from {folder}'s other segments")
        parts.append(pcm.frames)
    if fmt is None:
        raise VoiceError("nothing to say")
    frames = b"".join(fmt.silence(p) if isinstance(p, int) else p for p in parts)
    return Pcm(fmt.channels, fmt.width, fmt.rate, frames)
