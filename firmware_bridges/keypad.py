"""Caller keypad and evaluator keypad on RS-485: the `FF 68 L L 68 ADDR FUNC DATA CS 16` frame.

Pure codec, no I/O. Frame, both directions (docs/device-protocols.md):

    FF 68 L L 68 ADDR FUNC DATA... CS 16
    L  = 2 + len(DATA), sent twice: a frame whose two copies differ is rejected
    CS = (ADDR + FUNC + sum(DATA)) mod 256

Keys arrive as the last data byte of a key frame; the host acknowledges by echoing the
frame. The keypad's digit display takes FUNC 0x02 with six digit bytes (0x0A blank);
FUNC 0x03 beeps. The 4-key evaluator sends FUNC 0x11 with one value, turned into one of our
five levels by a map from its profile (it cannot express all five: prefer 5-key models).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from firmware_bridges.stream import ResyncDecoder

START = b"\xff\x68"
END = 0x16
FUNC_POLL = 0x01  # our poll (profile `poll_func`): answered by a key frame or an empty 0x01
FUNC_DISPLAY = 0x02
FUNC_BEEP = 0x03
FUNC_KEY = 0x04  # the key frame's function code in the profiles we ship (profile `key_func`)
FUNC_EVALUATE = 0x11
BLANK = 0x0A
MAX_DATA = 253  # L is one byte and counts ADDR and FUNC


class Key(IntEnum):
    EVALUATE = 0x0B
    CALL = 0x0C
    RECALL = 0x0D
    CONFIRM = 0x0F
    PAUSE = 0x12
    TRANSFER = 0x13


@dataclass(frozen=True, slots=True)
class KeypadFrame:
    address: int
    func: int
    data: bytes = b""


def checksum(address: int, func: int, data: bytes) -> int:
    return (address + func + sum(data)) & 0xFF


def encode(frame: KeypadFrame) -> bytes:
    if not 0 <= frame.address <= 0xFF or not 0 <= frame.func <= 0xFF:
        raise ValueError("address and function are single bytes")
    if len(frame.data) > MAX_DATA:
        raise ValueError(f"at most {MAX_DATA} data bytes")
    length = 2 + len(frame.data)
    return (START + bytes([length, length, 0x68, frame.address, frame.func]) + frame.data
            + bytes([checksum(frame.address, frame.func, frame.data), END]))


def display(address: int, number: int | None) -> bytes:
    """Six digits, right-aligned, blanks on the left; None blanks the display."""
    if number is None:
        digits = bytes([BLANK] * 6)
    else:
        if not 0 <= number <= 999_999:
            raise ValueError("the display shows at most six digits")
        text = str(number).rjust(6)
        digits = bytes(BLANK if ch == " " else int(ch) for ch in text)
    return encode(KeypadFrame(address, FUNC_DISPLAY, digits))


def display_ticket(address: int, ticket_number: str | None, waiting: int) -> bytes:
    """The keypad shows the digits of the current number and the waiting count:
    `001 012` for A001 with 12 waiting (letters cannot be shown on seven segments)."""
    digits = bytearray([BLANK] * 6)
    if ticket_number:
        tail = "".join(ch for ch in ticket_number if ch.isdigit())[-3:].rjust(3)
        digits[0:3] = bytes(BLANK if ch == " " else int(ch) for ch in tail)
    count = str(min(max(waiting, 0), 999)).rjust(3)
    digits[3:6] = bytes(BLANK if ch == " " else int(ch) for ch in count)
    return encode(KeypadFrame(address, FUNC_DISPLAY, bytes(digits)))


def display_text(address: int, text: str, glyphs: dict[str, int] | None = None) -> bytes:
    """Six characters, left-aligned: digits as themselves, a space blank, and any other
    character by the model's own segment code from `glyphs` (the profile's
    `[keypad] glyphs`, e.g. E and -); a character the model cannot show is blank."""
    codes = bytearray()
    for ch in text[:6].ljust(6):
        if ch.isdigit():
            codes.append(int(ch))
        else:
            codes.append((glyphs or {}).get(ch, BLANK))
    return encode(KeypadFrame(address, FUNC_DISPLAY, bytes(codes)))


def beep(address: int) -> bytes:
    return encode(KeypadFrame(address, FUNC_BEEP))


def poll(address: int, func: int = FUNC_POLL) -> bytes:
    return encode(KeypadFrame(address, func))


def shown_digits(frame: KeypadFrame, glyphs: dict[str, int] | None = None) -> str:
    """What a display frame shows, blanks as spaces (for simulators and tests); a segment
    code of `glyphs` as its character, any other code as ?."""
    names = {code: ch for ch, code in (glyphs or {}).items()}
    return "".join(" " if b == BLANK else str(b) if b < 10 else names.get(b, "?")
                   for b in frame.data)


class Decoder(ResyncDecoder[KeypadFrame]):
    """Stream decoder: feed bytes, get frames; bad frames are counted and skipped."""

    marker = START

    def parse_at(self, buf: bytearray, i: int) -> tuple[KeypadFrame, int] | str:
        frame = _parse_at(buf, i)
        return (frame, len(frame.data) + 9) if isinstance(frame, KeypadFrame) else frame


def _parse_at(buf: bytearray, i: int) -> KeypadFrame | str:
    """A frame starting at buf[i] (which holds FF 68), 'incomplete', or why it is bad."""
    if len(buf) - i < 5:
        return "incomplete"
    l1, l2, mark = buf[i + 2], buf[i + 3], buf[i + 4]
    if l1 != l2:
        return "length bytes differ"
    if mark != 0x68:
        return "second start byte missing"
    if l1 < 2:
        return "length too short"
    total = l1 + 7
    if len(buf) - i < total:
        return "incomplete"
    address, func = buf[i + 5], buf[i + 6]
    data = bytes(buf[i + 7: i + 5 + l1])
    if buf[i + 5 + l1] != checksum(address, func, data):
        return "checksum mismatch"
    if buf[i + 6 + l1] != END:
        return "end byte missing"
    return KeypadFrame(address, func, data)


@dataclass(frozen=True, slots=True)
class Press:
    """What a keypad frame means: a key (with the digits typed before it, if any) or a level.

    The keypad keeps the digits typed before a function key and sends them in the key
    frame, first typed first: `FF 68 05 05 68 01 04 01 02 13 CS 16` is 1 2 TRANSFER.
    `digit` is the last of them (the one that picks abandon / suspend / call back before
    CONFIRM)."""

    address: int
    key: int | None = None
    digit: int | None = None
    level: int | None = None
    digits: tuple[int, ...] = ()

    @property
    def number(self) -> int | None:
        """The digits typed before the key as one number (a target window), or None."""
        return int("".join(map(str, self.digits))) if self.digits else None


def interpret(frame: KeypadFrame, key_func: int = FUNC_KEY,
              levels: dict[int, int] | None = None) -> Press | None:
    """A key frame or an evaluator frame to a Press; anything else (echoes, empty poll
    answers) is None. `levels` maps an evaluator's raw value to our level 1-5."""
    if frame.func == FUNC_EVALUATE and frame.data:
        raw = frame.data[-1]
        level = (levels or {}).get(raw, raw if levels is None else None)
        if level is None or not 1 <= level <= 5:
            return None
        return Press(frame.address, level=level)
    if frame.func == key_func and frame.data:
        key = frame.data[-1]
        typed: list[int] = []
        for b in reversed(frame.data[:-1]):  # the run of digits right before the key
            if b > 9:
                break
            typed.append(b)
        digits = tuple(reversed(typed))
        return Press(frame.address, key=key, digit=digits[-1] if digits else None,
                     digits=digits)
    return None
