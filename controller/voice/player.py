"""One playback queue for the hall's loudspeaker: announcements follow the event stream.

The writer calls `on_events` with each committed group; every ticket.called, ticket.recalled
and ticket.called_back becomes an Announcement on one queue, and one task renders and plays
them one after the other, so two calls never talk over each other. With the "browser"
backend the box stays silent and the /hall page speaks (the page reads the same text from
/api/display/hall). A failing render or player is logged and the next call goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import structlog

from controller.config.model import HallConfig
from controller.core import events as ev
from controller.display.compose import call_announcement
from controller.store.eventlog import Envelope
from controller.voice.audio import (
    Pcm,
    VoiceError,
    espeak_wav,
    repeat_pcm,
    segments_pcm,
    write_wav,
)
from controller.voice.text import Announcement

log = structlog.get_logger("voice")

CALL_EVENTS = {ev.TICKET_CALLED: "called", ev.TICKET_RECALLED: "recalled",
               ev.TICKET_CALLED_BACK: "called_back"}
QUEUE_MAX = 200  # calls waiting to be said; beyond it the oldest are dropped (logged)


def announcements(cfg: HallConfig, envelopes: list[Envelope]) -> list[Announcement]:
    """The calls to announce in a group of committed events, in order."""
    out = []
    for e in envelopes:
        kind = CALL_EVENTS.get(e.type)
        if kind and "number" in e.data and "window" in e.data:
            out.append(call_announcement(cfg, kind, str(e.data["number"]), int(e.data["window"])))
    return out


class VoicePlayer:
    """The loudspeaker's queue. `said` keeps the last announcements for health checks."""

    def __init__(self, cfg: HallConfig, out_dir: Path,
                 on_said: Callable[[Announcement, Path | None], None] | None = None) -> None:
        self.cfg = cfg
        self.out_dir = out_dir
        self.queue: asyncio.Queue[Announcement] = asyncio.Queue(QUEUE_MAX)
        self.on_said = on_said
        self.said = 0
        self.failed = 0

    @property
    def audible(self) -> bool:
        return self.cfg.voice.backend in ("espeak", "segments")

    def on_events(self, envelopes: list[Envelope]) -> None:
        if not self.audible:
            return
        for a in announcements(self.cfg, envelopes):
            if self.queue.full():
                dropped = self.queue.get_nowait()
                log.warning("voice_queue_full", dropped=dropped.number)
            self.queue.put_nowait(a)

    async def render(self, a: Announcement) -> Path:
        """One WAV with the announcement said `repeat` times."""
        v = self.cfg.voice
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out = self.out_dir / "announcement.wav"
        if v.backend == "espeak":
            one: Pcm = await espeak_wav(a.speech, self.out_dir / "one.wav", v.espeak_voice,
                                        v.espeak_speed)
        elif v.backend == "segments" and v.segments_dir is not None:
            one = segments_pcm(a.speech, v.segments_dir)
        else:
            raise VoiceError(f"backend {v.backend} renders no audio")
        write_wav(out, one, repeat_pcm(one, v.repeat, v.gap_ms))
        return out

    async def play(self, path: Path) -> None:
        player = self.cfg.voice.player
        if not player:
            return  # rendered only: no speaker configured (LED-only halls, tests)
        proc = await asyncio.create_subprocess_exec(
            *player, str(path), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(60):  # not wait_for: see sync/mqtt_client.py
                _, err = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise VoiceError("the player did not finish in 60 s") from None
        if proc.returncode != 0:
            raise VoiceError(f"player exited {proc.returncode}: {err.decode(errors='replace')}")

    async def run(self) -> None:
        while True:
            a = await self.queue.get()
            try:
                path = await self.render(a)
                await self.play(path)
                self.said += 1
                log.info("announced", number=a.number, window=a.window, kind=a.kind)
                if self.on_said:
                    self.on_said(a, path)
            except (VoiceError, OSError) as exc:
                self.failed += 1
                log.warning("announce_failed", number=a.number, window=a.window, error=str(exc))
