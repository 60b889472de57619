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
    # it missed a reply since it last answered: it may have restarted blank (a power blip
    # shorter than `offline_after` polls), so its content goes out again once it answers
    missed: bool = False
    # the last key frame acted on, and when (monotonic): a repeat of it within
    # bus.REPEAT_S is acknowledged and not acted on again
    last_press: tuple[bytes, float] | None = None

    @classmethod
    def of(cls, entry: DeviceEntry, profile: Profile) -> Device:
        return cls(entry, profile, Health(profile.timing.offline_after, entry.id))

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
        """The device may have lost what it showed (reconnect, back from offline or from
        a missed reply): every frame of its content goes out again."""
        self.delivered = None
        self.sent.clear()
        self.missed = False

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
            "status": h.shown.value,
            "last_seen": h.last_seen, "last_error": h.reason,
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


# What shows in place of a character a screen's encoding lacks: the first of these it has.
PLACEHOLDERS = ("□", "?")
# Ours, not a vendor's: an Onbon text longer than this is cut (it keeps a frame well under
# the 16 KiB the decoders hold, firmware_bridges/stream.py).
ONBON_MAX_TEXT = 8 * 1024


def content_frames(d: Device) -> list[bytes]:
    """The frames that make the device show `d.content` (all must be acknowledged)."""
    return render(d)[0]


def render(d: Device) -> tuple[list[bytes], str | None]:
    """The frames that make the device show `d.content`, and what of it could not be shown
    as it is (None: all of it). Text is made to fit, never refused: a character the
    screen's encoding lacks shows as a placeholder, a line too long for one frame is cut.
    A screen of more lines than the content has gets the others blank (a line it was told
    before would stay otherwise)."""
    assert d.content is not None
    p = d.profile
    if p.codec == "keypad":
        if d.content[0] == SHOW:
            return [keypad.display_text(d.address, str(d.content[1]), p.keypad.glyphs)], None
        number, waiting = d.content
        return [keypad.display_ticket(d.address, number, waiting)], None
    problems: list[str] = []
    if p.codec == "textscreen":
        texts = [str(t) for t in d.content]
        texts += [""] * (d.lines() - len(texts))
        frames = []
        for i, text in enumerate(texts):
            shown = fit_text(text, p.encoding, textscreen.MAX_TEXT, problems)
            # the line with a number flashes (the screen flashes a call for about 3 s)
            frames.append(textscreen.show(
                d.address, shown, line=i, encoding=p.encoding,
                effect=textscreen.EFFECT_FLASH if text.startswith("请")
                else textscreen.EFFECT_STATIC))
        return frames, "; ".join(dict.fromkeys(problems)) or None
    if p.codec == "onbon_bx":
        disp = p.display
        area = onbon.Area(disp.get("area_id", 0), "", 0, 0, disp.get("width", 64),
                          disp.get("height", 16), disp.get("mode", onbon.STATIC))
        text = fit_text(" ".join(str(t) for t in d.content), p.encoding, ONBON_MAX_TEXT,
                        problems)
        destination = d.address if d.entry.address is not None else 0xFFFE
        return ([onbon.show_text(text, area, destination, p.encoding)],
                "; ".join(problems) or None)
    raise ValueError(f"{p.codec} shows no content")


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeError:
        return False
    return True


def _named(ch: str) -> str:
    """U+2C317 𬌗; a lone surrogate by its code only (it cannot be written to a log)."""
    code = f"U+{ord(ch):04X}"
    return code if 0xD800 <= ord(ch) <= 0xDFFF or not ch.isprintable() else f"{code} {ch}"


def fit_text(text: str, encoding: str, max_bytes: int, problems: list[str]) -> str:
    """`text` as the screen can take it: a character `encoding` lacks replaced by a
    placeholder, then cut (at a character) to `max_bytes` encoded. What was changed is
    appended to `problems`, in words that do not change with the rest of the text (it is
    logged once, not at every call)."""
    try:
        size = len(text.encode(encoding))
    except UnicodeError:
        placeholder = next((c for c in PLACEHOLDERS if _encodable(c, encoding)), "")
        lacking = {ch for ch in text if not _encodable(ch, encoding)}
        text = "".join(placeholder if ch in lacking else ch for ch in text)
        problems.append(f"characters {encoding} lacks, shown as {placeholder!r}: "
                        + ", ".join(_named(ch) for ch in sorted(lacking)))
        size = len(text.encode(encoding))
    if size > max_bytes:
        used = 0
        for i, ch in enumerate(text):
            used += len(ch.encode(encoding))
            if used > max_bytes:
                text = text[:i]
                break
        while len(text.encode(encoding)) > max_bytes:  # a stateful encoding: to be sure
            text = text[:-1]
        problems.append(f"text longer than one frame takes ({max_bytes} bytes {encoding}): "
                        "cut")
    return text


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
