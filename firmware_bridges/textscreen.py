"""Our own RS-485 text-screen protocol ("HT1"), for window screens whose vendor publishes none.

Pure codec, no I/O. Documented for vendors in docs/device-protocols.md, so that a screen
built to it is supported by a profile alone:

    55 AA | ADDR | CMD | LEN | DATA (LEN bytes) | CRC16 lo | CRC16 hi
    CRC-16/ARC (the Onbon one) over ADDR..DATA; ADDR 1-247, 0 = broadcast (never answered)

Host to screen: 0x10 show text (DATA = line, effect, text), 0x11 clear, 0x20 status.
Screen to host: CMD | 0x80 with DATA = status byte (0 OK, 1 bad request, 2 text too long),
for 0x20 also the number of lines. Length-prefixed, so no escaping is needed; the CRC and
the two sync bytes find the next frame after noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridges.onbon import crc16_arc
from firmware_bridges.stream import ResyncDecoder

SYNC = b"\x55\xaa"
CMD_SHOW = 0x10
CMD_CLEAR = 0x11
CMD_STATUS = 0x20
REPLY = 0x80
BROADCAST = 0
STATUS_OK, STATUS_BAD_REQUEST, STATUS_TOO_LONG = 0, 1, 2
EFFECT_STATIC, EFFECT_FLASH, EFFECT_SCROLL = 0, 1, 2
MAX_DATA = 255
MAX_TEXT = MAX_DATA - 2  # a show frame's text, encoded, after its line and effect bytes


@dataclass(frozen=True, slots=True)
class ScreenFrame:
    address: int
    command: int
    data: bytes = b""


def encode(f: ScreenFrame) -> bytes:
    if not 0 <= f.address <= 247:
        raise ValueError("address is 0 (broadcast) or 1-247")
    if len(f.data) > MAX_DATA:
        raise ValueError(f"at most {MAX_DATA} data bytes")
    body = bytes([f.address, f.command, len(f.data)]) + f.data
    crc = crc16_arc(body)
    return SYNC + body + bytes([crc & 0xFF, crc >> 8])


def show(address: int, text: str, line: int = 0, effect: int = EFFECT_STATIC,
         encoding: str = "gb18030") -> bytes:
    data = bytes([line, effect]) + text.encode(encoding)
    if len(data) > MAX_DATA:
        raise ValueError("text too long for one frame")
    return encode(ScreenFrame(address, CMD_SHOW, data))


def clear(address: int) -> bytes:
    return encode(ScreenFrame(address, CMD_CLEAR))


def status(address: int) -> bytes:
    return encode(ScreenFrame(address, CMD_STATUS))


def reply(address: int, command: int, code: int = STATUS_OK, extra: bytes = b"") -> bytes:
    return encode(ScreenFrame(address, command | REPLY, bytes([code]) + extra))


def shown_text(f: ScreenFrame, encoding: str = "gb18030") -> tuple[int, int, str]:
    """(line, effect, text) of a show frame; ValueError when it is not one."""
    if f.command != CMD_SHOW or len(f.data) < 2:
        raise ValueError("not a show-text frame")
    return f.data[0], f.data[1], f.data[2:].decode(encoding)


class Decoder(ResyncDecoder[ScreenFrame]):
    marker = SYNC

    def parse_at(self, buf: bytearray, i: int) -> tuple[ScreenFrame, int] | str:
        frame = _parse_at(buf, i)
        return (frame, len(frame.data) + 7) if isinstance(frame, ScreenFrame) else frame


def _parse_at(buf: bytearray, i: int) -> ScreenFrame | str:
    if len(buf) - i < 5:
        return "incomplete"
    address, command, length = buf[i + 2], buf[i + 3], buf[i + 4]
    if address > 247:
        return "bad address"
    total = length + 7
    if len(buf) - i < total:
        return "incomplete"
    body = bytes(buf[i + 2: i + 5 + length])
    crc = buf[i + 5 + length] | (buf[i + 6 + length] << 8)
    if crc16_arc(body) != crc:
        return "CRC mismatch"
    return ScreenFrame(address, command, body[3:])
