"""One task owns one link: an RS-485 bus of addressed devices, or one TCP display.

Frames go out one at a time, each followed by the profile's inter-frame gap; a device's
answer is awaited up to its reply timeout before the next frame. Display updates go before
polls (a call must reach the screen before anybody is asked for keys). A device that does
not answer costs only its own timeout and is probed less often while offline, so one dead
address never takes the bus down. The link itself reconnects through the one reconnect
state machine (controller/sync/reconnect.py); after a reconnect every display is sent its
content again, whatever it was showing before, and so is a device that missed a reply once
it answers again (it may have restarted blank).

Only the link's own failures (the port, the socket) end a session: a device's content that
cannot be encoded is made to fit and that device reported degraded
(controller/devices/runtime.py, `render`), and a key handler that fails is logged, so one
device never takes its bus down. Bytes nobody asked for are counted for the bus
(`unasked_bytes`, `noise`) and logged rate-limited as `bad_frame` with the bus's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from controller.devices.health import BadFrameLog, Status
from controller.devices.runtime import (
    Device,
    answer_error,
    answers,
    new_decoder,
    poll_frame,
    render,
)
from controller.sync.reconnect import Backoff, ReconnectLogic
from firmware_bridges import keypad

log = structlog.get_logger("devices")

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
PressHandler = Callable[[Device, keypad.Press], None]
READ_CHUNK = 4096
# The same key frame from the same keypad within this long is a repeat, not a new press
# (the keys that change the hall: call, complete, no-show, transfer...):
# no clerk means CALL twice in a second and a half, and a keypad whose echo was lost sends
# its press again.
REPEAT_S = 1.5
# Keys whose repeat does no harm, so never held back: the evaluate prompt (a second beep);
# a rating repeated is refused by the engine itself (one rating per service).
HARMLESS_TWICE = frozenset({"evaluate"})


def serial_opener(path: Path, baudrate: int, bytesize: int, parity: str, stopbits: int
                  ) -> Opener:
    async def open_() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        import serial_asyncio_fast

        # resolve a symlink now: a re-created pty behind the same name is a new device
        target = str(path.resolve()) if path.is_symlink() else str(path)
        return await serial_asyncio_fast.open_serial_connection(
            url=target, baudrate=baudrate, bytesize=bytesize, parity=parity,
            stopbits=stopbits)
    return open_


def tcp_opener(host: str, port: int, timeout: float = 3.0) -> Opener:
    async def open_() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(host, port)
    return open_


class LinkDown(ConnectionError):
    pass


# Timeouts here use `asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11 wait_for
# swallows a cancellation that arrives as its inner read completes, and a link task in a
# read loop would then outlive the daemon's shutdown.


class Bus:
    def __init__(self, name: str, opener: Opener, devices: list[Device],
                 on_press: PressHandler | None = None) -> None:
        self.name = name
        self.opener = opener
        self.devices = devices
        self.on_press = on_press
        self.wake = asyncio.Event()
        self.decoders: dict[str, Any] = {}
        self.logic = ReconnectLogic(f"devices:{name}", self._session,
                                    Backoff(base=0.2, cap=2.0), stable_after=5.0)
        self.exchanges = 0
        self.unasked_bytes = 0  # bytes that came while nobody was asked
        self.noise = 0  # reads of them that were no frame of any device
        self.frames_log = BadFrameLog()

    def poke(self) -> None:
        """New content for some device of this link: take it on the next turn."""
        self.wake.set()

    async def run(self) -> None:
        await self.logic.run()

    async def _session(self) -> None:
        reader, writer = await self.opener()
        self.logic.mark_connected()
        self.decoders = {}
        for d in self.devices:
            d.forget()  # after a reconnect, every screen is sent its content again
            d.next_poll = 0.0
        try:
            while True:
                await self._turn(reader, writer)
        except LinkDown:
            raise
        except OSError as exc:
            raise LinkDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            for d in self.devices:
                d.health.down(f"link {self.name} down")
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass

    async def _turn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # 1. content first: a call must reach the screens before anything is polled
        # (a device that is offline or babbling gets its content only when its next probe
        # is due: retrying it at once would take the bus from its neighbours)
        for d in sorted((x for x in self.devices if x.dirty), key=lambda x: x.urgency):
            if d.dirty and (d.health.status is Status.ONLINE
                            or time.monotonic() >= d.next_poll):
                await self._deliver(reader, writer, d)
        for d in self.devices:  # one-off frames (a beep, a prompt), once each
            while d.once:
                await self._exchange(reader, writer, d, d.once.popleft())
        # 2. polls that are due, in address order
        now = time.monotonic()
        for d in self.devices:
            if now >= d.next_poll:
                frame = poll_frame(d)
                if frame is None:  # a card with no poll: re-sending the content is the poll
                    if d.content is not None:
                        await self._deliver(reader, writer, d, force=True)
                    else:
                        d.schedule()
                    continue
                await self._exchange(reader, writer, d, frame)
                d.schedule()
                if self.wake.is_set() and any(x.dirty or x.once for x in self.devices):
                    break  # new content waits for no poll
        if any((x.dirty and x.health.status is Status.ONLINE) or x.once
               for x in self.devices):
            return
        delay = max(0.0, min((d.next_poll for d in self.devices), default=1.0)
                    - time.monotonic())
        self.wake.clear()
        # Idle: listen too, so a closed port or a restarted peer is noticed at once, and a
        # keypad that sends its key unasked (some do) is heard between polls.
        read = asyncio.ensure_future(reader.read(READ_CHUNK))
        woken = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({read, woken}, timeout=delay,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not read.done():
                read.cancel()
                # let the cancelled read end before anyone reads again (one reader at a
                # time); asyncio.wait does not swallow a cancellation of this task
                await asyncio.wait({read})
        if read.done() and not read.cancelled():
            chunk = read.result()
            if not chunk:
                raise LinkDown("port closed")
            self._unasked(writer, chunk)

    def _unasked(self, writer: asyncio.StreamWriter, chunk: bytes) -> None:
        """Bytes nobody was asked for: only a keypad's key frame means something here;
        anything else (a late answer, noise on the line) is counted for the bus."""
        self.unasked_bytes += len(chunk)
        reason = f"{len(chunk)} bytes nobody asked for"
        if any(d.profile.codec == "keypad" for d in self.devices):
            decoder = self.decoders.setdefault("keypad", new_decoder("keypad", ""))
            stats = decoder.stats
            bad_before, skipped_before = stats.bad_frames, stats.skipped_bytes
            for f in decoder.feed(chunk):
                self._maybe_press(writer, f)
            if stats.bad_frames > bad_before:
                reason = f"{reason}: {stats.last_error}"
            elif stats.skipped_bytes == skipped_before:
                return  # key frames, or the start of one
        self.noise += 1
        self.frames_log.note(reason, bus=self.name)

    async def _deliver(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       d: Device, force: bool = False) -> None:
        """Sends the frames of d's content that it has not acknowledged yet (all of them
        when forced): a call changes one line of a two-line screen, one frame goes out."""
        content = d.content
        force = force or d.health.status is not Status.ONLINE
        try:  # one device's content never takes the bus down
            frames, problem = render(d)
        except Exception as exc:  # noqa: BLE001 - a codec's refusal, whatever it is
            frames, problem = [], f"content cannot be shown: {type(exc).__name__}: {exc}"
        d.health.content(problem)
        ok = True
        for i, frame in enumerate(frames):
            if not force and d.sent.get(i) == frame:
                continue
            ok = await self._exchange(reader, writer, d, frame)
            if not ok:
                break
            d.sent[i] = frame
        # delivered only when every frame was acknowledged since the device last may have
        # lost them (an answer after a miss clears what it had acknowledged before)
        if ok and d.content == content and all(d.sent.get(i) == f
                                               for i, f in enumerate(frames)):
            d.delivered = content
        d.schedule()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        d: Device, frame: bytes) -> bool:
        """Send one frame, wait for d's answer. True when d answered well."""
        self.exchanges += 1
        writer.write(frame)
        await writer.drain()
        decoder = self.decoders.get(d.profile.codec)
        if decoder is None:
            decoder = self.decoders[d.profile.codec] = new_decoder(d.profile.codec,
                                                                   d.profile.encoding)
        bad_before = decoder.stats.bad_frames
        timing = d.profile.timing
        deadline = time.monotonic() + timing.reply_timeout_ms / 1000
        got_bytes = False
        answer = None
        while answer is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    chunk = await reader.read(READ_CHUNK)
            except TimeoutError:
                break
            if not chunk:
                raise LinkDown("port closed")
            got_bytes = True
            for f in decoder.feed(chunk):
                if answers(d, f):
                    answer = f
                self._maybe_press(writer, f)
        if timing.inter_frame_gap_ms:
            await asyncio.sleep(timing.inter_frame_gap_ms / 1000)
        bad = decoder.stats.bad_frames - bad_before
        if answer is not None:
            if bad:  # noise before the answer: counted and logged, the answer stands
                d.health.noise(decoder.stats.last_error or "unreadable bytes", bad)
            error = answer_error(d, answer)
            if error:
                d.health.garbage(error)
                return False
            if d.health.status is not Status.ONLINE or d.missed:
                # back from offline or garbage, or after a missed reply (a power blip
                # shorter than offline_after polls): it may have restarted blank
                d.forget()
            d.health.ok()
            return True
        if got_bytes or bad:
            d.health.bad_frame((decoder.stats.last_error if bad else None)
                               or "unreadable answer", max(bad, 1))
        else:
            d.health.miss()
            d.missed = True
        return False

    def _maybe_press(self, writer: asyncio.StreamWriter, f: Any) -> None:
        """A key or evaluator frame from any keypad of this bus: acknowledge, then act."""
        if not isinstance(f, keypad.KeypadFrame) or self.on_press is None:
            return
        for d in self.devices:
            if d.profile.codec != "keypad" or d.address != f.address:
                continue
            press = keypad.interpret(f, d.profile.key_func,
                                     d.profile.levels if d.entry.kind == "evaluator" else None)
            if press is not None:
                frame = keypad.encode(f)
                writer.write(frame)  # the host acknowledges by echoing the frame
                now = time.monotonic()
                acts = d.profile.keys.get(press.key if press.key is not None else -1)
                if (acts not in HARMLESS_TWICE and press.level is None
                        and d.last_press is not None and d.last_press[0] == frame
                        and now - d.last_press[1] < REPEAT_S):
                    # The same key again at once: the keypad re-sending a press whose echo
                    # it missed, or a finger that bounced. CALL twice would complete the
                    # citizen just called, unserved, and call the next one.
                    d.last_press = (frame, now)
                    log.info("key_repeat_ignored", device=d.id, key=press.key,
                             level=press.level)
                    return
                d.last_press = (frame, now)
                try:
                    self.on_press(d, press)
                except Exception:  # noqa: BLE001 - a key's handler never stops the bus
                    log.exception("device_press_failed", device=d.id)
            return
