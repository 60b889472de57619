"""A device at run time: its wiring, profile, health, and what it should show.

Also the per-codec glue the links share: which frames show a content, which frame polls a
device, and whether a decoded frame is that device's answer. Pure functions over codecs.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from controller.config.model import DeviceEntry
from controller.devices.health import Health
from controller.devices.profiles import Profile
from firmware_bridges import keypad, onbon, textscreen

OFFLINE_PROBE_S = 1.0  # how often a device that is offline is tried again


@dataclass(slots=True)
class Device:
    entry: DeviceEntry
    profile: Profile
    health: Health
    content: tuple[Any, ...] | None = None  # what it should show now
    delivered: tuple[Any, ...] | None = None  # what it acknowledged last
    sent: dict[int, bytes] = field(default_factory=dict)  # frame index -> acknowledged frame
    mark: object = None  # the call (ticket, recalls) the display last showed: content.call_mark
    next_poll: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)  # counters' totals, printer paper
    # frames to send once, not content (a beep, an evaluator's prompt): the bus sends them
    # before its polls, each awaiting the device's answer like any other frame
    once: deque[bytes] = field(default_factory=deque)

    @classmethod
    def of(cls, entry: DeviceEntry, profile: Profile) -> Device:
        return cls(entry, profile, Health(profile.timing.offline_after))

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def address(self) -> int:
        return self.entry.address or 0

    @property
    def dirty(self) -> bool:
        return self.content is not None and self.content != self.delivered

    def forget(self) -> None:
        """The device may have lost what it showed (reconnect, back from offline): every
        frame of its content goes out again."""
        self.delivered = None
        self.sent.clear()

    @property
    def urgency(self) -> int:
        """Content order on a bus: window screens first (the citizen is looking), then the
        hall strip, then keypad digits."""
        if self.entry.kind == "display":
            return 0 if self.entry.role == "window_screen" else 1
        return 2

    def lines(self) -> int:
        return self.profile.display.get("lines", 1)

    def schedule(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        interval = self.profile.timing.poll_interval_ms / 1000
        if self.health.status == "offline":
            interval = min(interval, OFFLINE_PROBE_S)
        self.next_poll = now + interval

    def view(self) -> dict[str, Any]:
        h = self.health
        out: dict[str, Any] = {
            "id": self.id, "kind": self.entry.kind, "profile": self.entry.profile,
            "status": h.status.value,
            "last_seen": h.last_seen, "last_error": h.last_error,
            "bad_frames": h.bad_frames,
            "window": self.entry.window, "role": self.entry.role,
            "link": self.entry.port or f"{self.entry.host}:{self.entry.tcp_port}",
            "address": self.entry.address,
        }
        if self.entry.kind == "display":
            out["content"] = list(self.content or ())
        elif self.entry.kind == "keypad" and self.content is not None:
            out["content"] = keypad_text(self.content)
        out.update(self.info)
        return out


def keypad_text(content: tuple[Any, ...]) -> list[str]:
    if content[0] == SHOW:
        return [str(content[1]).rstrip()]
    number, waiting = content
    return [f"{number or '---'} 等候{waiting}"]


# A keypad content of (SHOW, text) shows six characters for a while instead of the number
# and the waiting count: the result of a key (the target window of a transfer, E--).
SHOW = "show"


def content_frames(d: Device) -> list[bytes]:
    """The frames that make the device show `d.content` (all must be acknowledged)."""
    assert d.content is not None
    p = d.profile
    if p.codec == "keypad":
        if d.content[0] == SHOW:
            return [keypad.display_text(d.address, str(d.content[1]), p.keypad.glyphs)]
        number, waiting = d.content
        return [keypad.display_ticket(d.address, number, waiting)]
    if p.codec == "textscreen":
        # the line with a number flashes (the screen flashes a call for about 3 s)
        return [textscreen.show(d.address, str(text), line=i, encoding=p.encoding,
                                effect=textscreen.EFFECT_FLASH if str(text).startswith("请")
                                else textscreen.EFFECT_STATIC)
                for i, text in enumerate(d.content)]
    if p.codec == "onbon_bx":
        disp = p.display
        area = onbon.Area(disp.get("area_id", 0), "", 0, 0, disp.get("width", 64),
                          disp.get("height", 16), disp.get("mode", onbon.STATIC))
        text = " ".join(str(t) for t in d.content)
        destination = d.address if d.entry.address is not None else 0xFFFE
        return [onbon.show_text(text, area, destination, p.encoding)]
    raise ValueError(f"{p.codec} shows no content")


def poll_frame(d: Device) -> bytes | None:
    """What asks a device 'are you there' (and, for keypads, 'any key?')."""
    p = d.profile
    if p.codec == "keypad":
        return keypad.poll(d.address, p.poll_func)
    if p.codec == "textscreen":
        return textscreen.status(d.address)
    return None  # Onbon cards: the content is re-sent as the keep-alive


def new_decoder(codec: str, encoding: str) -> Any:
    if codec == "keypad":
        return keypad.Decoder()
    if codec == "textscreen":
        return textscreen.Decoder()
    if codec == "onbon_bx":
        return onbon.Decoder(encoding)
    raise ValueError(f"no bus decoder for {codec}")


def answers(d: Device, frame: Any) -> bool:
    """Is this decoded frame the answer of device d?"""
    codec = d.profile.codec
    if codec == "keypad":
        return isinstance(frame, keypad.KeypadFrame) and frame.address == d.address
    if codec == "textscreen":
        return (isinstance(frame, textscreen.ScreenFrame) and frame.address == d.address
                and bool(frame.command & textscreen.REPLY))
    if codec == "onbon_bx":
        return (isinstance(frame, onbon.Frame) and frame.group == onbon.GROUP_ACK
                and (d.entry.address is None or frame.source == d.address))
    return False


def answer_error(d: Device, frame: Any) -> str | None:
    """An answer that reports a failure (an Onbon error code, an HT1 status) as text."""
    if isinstance(frame, onbon.Frame) and frame.payload and frame.payload[0] != 0:
        return f"controller error code {frame.payload[0]}"
    if isinstance(frame, textscreen.ScreenFrame) and frame.data and frame.data[0] != 0:
        return f"screen status {frame.data[0]}"
    return None
