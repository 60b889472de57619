"""Thermal ticket printer (ESC/POS): the ticket layout in GB18030, and the status read-back.

Pure codec, no I/O. `ticket()` builds the bytes of one ticket; `parse_status()` reads the
answer to DLE EOT 4 (paper sensor) so a ticket is never reported printed on an empty roll;
`Interpreter` is the printer's side (for the simulator and tests): it turns a byte stream
back into printed lines, QR codes, cuts and status requests, and never raises.

Only ticket and window numbers, the category and the time are printed: never an ID number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_bridges.stream import MAX_BUFFER, StreamStats

ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A
INIT = b"\x1b@"
CHINESE_ON = b"\x1c&"
CHINESE_OFF = b"\x1c."
CUT_PARTIAL = b"\x1dV\x01"
STATUS_PAPER = b"\x10\x04\x04"  # DLE EOT 4: roll paper sensor status
CENTER, LEFT = b"\x1ba\x01", b"\x1ba\x00"

WAIT_LINE = "请在休息区等候，注意呼叫及大屏显示信息"
NO_SHOW_LINE = "过号无效，请您重新取号"


@dataclass(frozen=True, slots=True)
class TicketContent:
    title: str
    hall: str
    category: str
    number: str
    waiting_ahead: int
    issued_at: str  # local time as printed, e.g. 2026-11-27 10:15
    qr: str | None = None  # a URL to follow the queue on a phone
    priority: str | None = None  # the group label, e.g. 绿色通道


def _fs_size(n: int) -> bytes:
    """FS ! n: Chinese characters double width (0x04) and/or height (0x08)."""
    return bytes([FS, 0x21, n])


def _gs_size(n: int) -> bytes:
    """GS ! n: ASCII characters, width multiplier in the high nibble, height in the low."""
    return bytes([GS, 0x21, n])


def qr_code(data: str, module_size: int = 6) -> bytes:
    """GS ( k: model 2, module size, error level M, store, print."""
    payload = data.encode("ascii")
    if len(payload) > 700:
        raise ValueError("QR data too long for a ticket")
    store_len = len(payload) + 3
    return (b"\x1d(k\x04\x001A2\x00"
            + b"\x1d(k\x03\x001C" + bytes([module_size])
            + b"\x1d(k\x03\x001E1"
            + b"\x1d(k" + bytes([store_len & 0xFF, store_len >> 8]) + b"1P0" + payload
            + b"\x1d(k\x03\x001Q0")


def ticket(t: TicketContent, encoding: str = "gb18030") -> bytes:
    def line(text: str) -> bytes:
        return text.encode(encoding) + b"\n"

    out = bytearray(INIT + CHINESE_ON + CENTER)
    out += _fs_size(0x0C) + line(t.title) + _fs_size(0)
    out += line(t.hall)
    out += line(t.category)
    if t.priority:
        out += line(t.priority)
    out += b"\x1bE\x01" + _gs_size(0x33) + _fs_size(0x0C) + line(t.number)
    out += _gs_size(0) + _fs_size(0) + b"\x1bE\x00"
    out += line(f"你前面还有 {t.waiting_ahead} 人在等待")
    out += line(WAIT_LINE)
    out += line(NO_SHOW_LINE)
    out += line(t.issued_at)
    if t.qr:
        out += qr_code(t.qr)
        out += b"\n"
    out += b"\x1bd\x03" + CUT_PARTIAL + CHINESE_OFF
    return bytes(out)


@dataclass(frozen=True, slots=True)
class PaperStatus:
    paper_out: bool
    near_end: bool


def parse_status(byte: int) -> PaperStatus:
    """The answer to DLE EOT 4; ValueError if its fixed bits are wrong (not a status byte)."""
    if byte & 0x93 != 0x12:
        raise ValueError(f"not a DLE EOT status byte: {byte:#04x}")
    return PaperStatus(paper_out=bool(byte & 0x60), near_end=bool(byte & 0x0C))


def status_byte(paper_out: bool, near_end: bool = False) -> int:
    return 0x12 | (0x60 if paper_out else 0) | (0x0C if near_end else 0)


@dataclass(slots=True)
class Printed:
    """What one ticket looked like on paper: its lines (with size), QR codes, and the cut."""

    lines: list[tuple[str, bool]] = field(default_factory=list)  # (text, large)
    qr: list[str] = field(default_factory=list)
    cut: bool = False

    def text(self) -> str:
        return "\n".join(line for line, _ in self.lines)


# fixed-length commands: prefix -> total length
_FIXED = {
    (ESC, 0x40): 2, (ESC, 0x61): 3, (ESC, 0x45): 3, (ESC, 0x64): 3, (ESC, 0x21): 3,
    (FS, 0x26): 2, (FS, 0x2E): 2, (FS, 0x21): 3, (GS, 0x21): 3, (GS, 0x56): 3,
    (DLE, 0x04): 3,
}


class Interpreter:
    """The printer's side: bytes in, finished tickets (at each cut) and status requests out."""

    def __init__(self, encoding: str = "gb18030") -> None:
        self.encoding = encoding
        self.buffer = bytearray()
        self.stats = StreamStats()
        self.current = Printed()
        self.large = False
        self._line = bytearray()
        self._qr_data = ""

    def feed(self, data: bytes) -> tuple[list[Printed], list[int]]:
        """Returns the tickets cut and the DLE EOT n requests seen in this chunk."""
        self.buffer += data
        cut: list[Printed] = []
        status: list[int] = []
        buf = self.buffer
        i = 0
        while i < len(buf):
            b = buf[i]
            if b == LF:
                self._end_line()
                i += 1
                continue
            if b not in (ESC, GS, FS, DLE):
                if b >= 0x20 or b == 0x09:
                    self._line.append(b)
                i += 1
                continue
            if i + 1 >= len(buf):
                break
            key = (b, buf[i + 1])
            if key == (GS, 0x28):  # GS ( k pL pH fn ...
                if i + 5 > len(buf):
                    break
                size = 5 + buf[i + 3] + (buf[i + 4] << 8)
                if i + size > len(buf):
                    break
                self._qr(bytes(buf[i + 5: i + size]))
                i += size
                continue
            length = _FIXED.get(key)
            if length is None:
                self.stats.bad(f"unknown command {b:#04x} {buf[i + 1]:#04x}", 2)
                i += 2
                continue
            if i + length > len(buf):
                break
            arg = buf[i + 2] if length == 3 else 0
            if key == (GS, 0x56):
                self._end_line()
                self.current.cut = True
                cut.append(self.current)
                self.stats.frames += 1
                self.current = Printed()
            elif key == (DLE, 0x04):
                status.append(arg)
            elif key in ((GS, 0x21), (FS, 0x21)):
                self.large = arg != 0
            elif key == (ESC, 0x40):
                self.large = False
            i += length
        del buf[:i]
        if len(buf) > MAX_BUFFER:
            self.stats.bad("buffer overflow", len(buf))
            buf.clear()
        return cut, status

    def _end_line(self) -> None:
        if self._line:
            self.current.lines.append(
                (bytes(self._line).decode(self.encoding, errors="replace"), self.large))
        self._line.clear()

    def _qr(self, body: bytes) -> None:
        # body: cn fn [params]; fn 0x50 stores data after m, fn 0x51 prints it
        if len(body) >= 3 and body[0] == 0x31 and body[1] == 0x50:
            self._qr_data = body[3:].decode("ascii", errors="replace")
        elif len(body) >= 2 and body[0] == 0x31 and body[1] == 0x51:
            self.current.qr.append(self._qr_data)
