"""Onbon BX-5/BX-6 LED controller cards: "dynamic area" text for window screens and wall strips.

Pure codec, no I/O. The frame as DOMAIN.md gives it (docs/device-protocols.md has the
byte tables):

    A5 x8 | escaped( header(14) | request | CRC-16/ARC LE over header+request ) | 5A

Escaping, after the CRC is computed: A5 -> A6 02, A6 -> A6 01, 5A -> 5B 02, 5B -> 5B 01.
Text is GB2312/GBK (we encode GBK, a superset; a character it lacks is refused, never
silently replaced). The latest text per dynamic-area id wins on the card.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from firmware_bridges.stream import MAX_BUFFER, StreamStats

PREAMBLE = b"\xa5" * 8
END = 0x5A
HEADER_LEN = 14
GROUP_DYNAMIC = 0xA3
CMD_DYNAMIC_AREA = 0x06
GROUP_ACK = 0xA0  # the reply our profiles expect (see docs/device-protocols.md: uncertain)
RESPONSE_REPLY = 0x01
RESPONSE_NONE = 0x02
DEVICE_ANY = 0xFE
PROTOCOL = 0x02

# display modes
STATIC, QUICK, LEFT, RIGHT, UP, DOWN = 1, 2, 3, 4, 5, 6

_ESCAPES = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
_UNESCAPE = {(0xA6, 0x02): 0xA5, (0xA6, 0x01): 0xA6, (0x5B, 0x02): 0x5A, (0x5B, 0x01): 0x5B}


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: poly 0x8005 reflected (0xA001), init 0, no final xor. '123456789' -> 0xBB3D."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        out += _ESCAPES.get(b, bytes([b]))
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Raises ValueError on an escape byte not followed by 01 or 02, or a bare A5/5A."""
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b in (0xA6, 0x5B):
            if i + 1 >= len(data) or (b, data[i + 1]) not in _UNESCAPE:
                raise ValueError("bad escape sequence")
            out.append(_UNESCAPE[(b, data[i + 1])])
            i += 2
            continue
        if b in (0xA5, 0x5A):
            raise ValueError("unescaped frame byte inside a frame")
        out.append(b)
        i += 1
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Area:
    """One dynamic area: position and size in pixels (x and width in 8-pixel units on the wire)."""

    area_id: int
    text: str
    x: int = 0
    y: int = 0
    width: int = 64
    height: int = 16
    display_mode: int = STATIC
    speed: int = 1
    stay: int = 10  # in 0.5 s
    multi_line: bool = True
    run_mode: int = 0  # 0: cycle the text
    timeout: int = 0
    line_size: int = 0


@dataclass(frozen=True, slots=True)
class Frame:
    destination: int
    source: int
    group: int
    command: int
    payload: bytes  # the request after group and command
    areas: tuple[Area, ...] = field(default=())
    response_mode: int = RESPONSE_REPLY


def _area_bytes(area: Area, encoding: str) -> bytes:
    if area.x % 8 or area.width % 8:
        raise ValueError("x and width are in 8-pixel units: multiples of 8")
    text = area.text.encode(encoding)  # UnicodeEncodeError: a character the card lacks
    return (bytes([0x00]) + struct.pack("<HHHH", area.x // 8, area.y, area.width // 8,
                                        area.height)
            + bytes([area.area_id, area.line_size, area.run_mode])
            + struct.pack("<H", area.timeout) + b"\x00\x00\x00"
            + bytes([0x02 if area.multi_line else 0x01, 0x00, area.display_mode, 0x00,
                     area.speed, area.stay])
            + struct.pack("<I", len(text)) + text)


def dynamic_area_request(areas: list[Area], encoding: str = "gbk",
                         response_mode: int = RESPONSE_REPLY) -> bytes:
    body = bytearray([GROUP_DYNAMIC, CMD_DYNAMIC_AREA, response_mode, 0x00, 0x00,
                      0x00,  # areas to delete: none (each area id is replaced in place)
                      len(areas)])
    for area in areas:
        data = _area_bytes(area, encoding)
        body += struct.pack("<H", len(data)) + data
    return bytes(body)


def frame(request: bytes, destination: int = 0xFFFE, source: int = 0x8000) -> bytes:
    header = (struct.pack("<HH", destination, source) + b"\x00\x00\x00"
              + bytes([0x00, 0x00, 0x00, DEVICE_ANY, PROTOCOL])
              + struct.pack("<H", len(request)))
    body = header + request
    return PREAMBLE + escape(body + struct.pack("<H", crc16_arc(body))) + bytes([END])


def show_text(text: str, area: Area | None = None, destination: int = 0xFFFE,
              encoding: str = "gbk", response_mode: int = RESPONSE_REPLY) -> bytes:
    """The one thing we ask of a card: this text in this dynamic area."""
    base = area or Area(0, text)
    chosen = Area(base.area_id, text, base.x, base.y, base.width, base.height,
                  base.display_mode, base.speed, base.stay, base.multi_line, base.run_mode,
                  base.timeout, base.line_size)
    return frame(dynamic_area_request([chosen], encoding, response_mode), destination)


def ack(error: int = 0, destination: int = 0x8000, source: int = 0xFFFE) -> bytes:
    """The reply a card sends (error 0 OK, 1..16 controller error codes)."""
    return frame(bytes([GROUP_ACK, 0x00, error & 0xFF]), destination, source)


def _parse_areas(payload: bytes, encoding: str) -> tuple[Area, ...]:
    if len(payload) < 5:
        raise ValueError("dynamic-area request too short")
    count = payload[4]
    pos = 5
    areas = []
    for _ in range(count):
        (size,) = struct.unpack_from("<H", payload, pos)
        pos += 2
        data = payload[pos: pos + size]
        if len(data) != size or size < 27:
            raise ValueError("area data truncated")
        pos += size
        x8, y, w8, h = struct.unpack_from("<HHHH", data, 1)
        area_id, line_size, run_mode = data[9], data[10], data[11]
        (timeout,) = struct.unpack_from("<H", data, 12)
        multi, mode, speed, stay = data[17], data[19], data[21], data[22]
        (length,) = struct.unpack_from("<I", data, 23)
        text = data[27: 27 + length]
        if len(text) != length or 27 + length != size:
            raise ValueError("text length disagrees with area length")
        areas.append(Area(area_id, text.decode(encoding), x8 * 8, y, w8 * 8, h, mode, speed,
                          stay, multi == 0x02, run_mode, timeout, line_size))
    if pos != len(payload):
        raise ValueError("trailing bytes after the areas")
    return tuple(areas)


def parse_body(body: bytes, encoding: str = "gbk") -> Frame:
    """Unescaped header+request+CRC to a Frame; ValueError on any inconsistency."""
    if len(body) < HEADER_LEN + 2 + 2:
        raise ValueError("frame too short")
    content, crc = body[:-2], struct.unpack("<H", body[-2:])[0]
    if crc16_arc(content) != crc:
        raise ValueError("CRC mismatch")
    destination, source = struct.unpack_from("<HH", content, 0)
    (length,) = struct.unpack_from("<H", content, 12)
    request = content[HEADER_LEN:]
    if len(request) != length:
        raise ValueError("data length disagrees with the frame")
    if len(request) < 2:
        raise ValueError("request too short")
    group, command, payload = request[0], request[1], request[2:]
    areas: tuple[Area, ...] = ()
    response_mode = RESPONSE_REPLY
    if group == GROUP_DYNAMIC and command == CMD_DYNAMIC_AREA:
        areas = _parse_areas(payload, encoding)
        response_mode = payload[0] if payload else RESPONSE_REPLY
    return Frame(destination, source, group, command, payload, areas, response_mode)


class Decoder:
    """Stream decoder: A5...5A frames; a bad one is counted and skipped."""

    def __init__(self, encoding: str = "gbk") -> None:
        self.encoding = encoding
        self.buffer = bytearray()
        self.stats = StreamStats()

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        out: list[Frame] = []
        while True:
            # Escaping guarantees that no A5 or 5A occurs inside a frame: a frame is the
            # bytes between the last A5 before a 5A and that 5A. Noise before it is dropped.
            end = self.buffer.find(bytes([END]))
            if end < 0:
                last = self.buffer.rfind(b"\xa5")
                drop = len(self.buffer) if last < 0 else last
                # keep the preamble run, drop what came before it
                while drop > 0 and self.buffer[drop - 1] == 0xA5:
                    drop -= 1
                if drop:
                    self.stats.skipped_bytes += drop
                    del self.buffer[:drop]
                break
            last = self.buffer.rfind(b"\xa5", 0, end)
            if last < 0:
                self.stats.skipped_bytes += end + 1
                del self.buffer[: end + 1]
                continue
            raw = bytes(self.buffer[last + 1:end])
            del self.buffer[: end + 1]
            try:
                out.append(parse_body(unescape(raw), self.encoding))
                self.stats.frames += 1
            except (ValueError, UnicodeDecodeError, struct.error) as exc:
                self.stats.bad(str(exc), len(raw) + 2)
        if len(self.buffer) > MAX_BUFFER:
            self.stats.bad("buffer overflow", len(self.buffer))
            self.buffer.clear()
        return out
