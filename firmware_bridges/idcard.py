"""Second-generation ID-card reader (SAM module): `AA AA AA 96 69` frames, 115200 8N1.

Pure codec, no I/O.

    request:  AA AA AA 96 69 | LEN u16 BE | CMD PARA [DATA] | CHK
    response: AA AA AA 96 69 | LEN u16 BE | SW1 SW2 SW3 [DATA] | CHK
    LEN counts the bytes after it, CHK included; CHK = XOR of LEN..DATA (the bytes after
    the preamble, before CHK). Find card: AA AA AA 96 69 00 03 20 01 22.

Base information (CMD 30 01) answers SW3 0x90 with DATA = text length u16 BE, photo length
u16 BE, 256 bytes of UCS-2LE text, then the photo. `read_identity` keeps only what the
hall may keep: a keyed hash of the ID number (computed by the caller's function, so this
package needs no key), the masked number and the birth date. The name, address and photo
are never returned; the clear number lives only inside that function, unless the caller
asks for it (and the name) to seal them at once for a real-name review report
(`for_report`).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridges.stream import ResyncDecoder

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
SW_OK = 0x90
SW_FOUND = 0x9F
SW_NO_CARD = 0x80  # find card: no card on the reader
FIND = (0x20, 0x01)
SELECT = (0x20, 0x02)
READ_BASE = (0x30, 0x01)
STATUS = (0x11, 0xFF)
TEXT_LEN = 256
# field offsets and sizes in the 256-byte text block, in bytes (UCS-2LE, 2 per character)
FIELDS = {"name": (0, 30), "sex": (30, 2), "ethnicity": (32, 4), "birth": (36, 16),
          "address": (52, 70), "id_number": (122, 36), "issuer": (158, 30),
          "valid_from": (188, 16), "valid_to": (204, 16)}


def xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def _frame(body: bytes) -> bytes:
    length = struct.pack(">H", len(body) + 1)
    return PREAMBLE + length + body + bytes([xor(length + body)])


def request(cmd: int, para: int, data: bytes = b"") -> bytes:
    return _frame(bytes([cmd, para]) + data)


def response(sw3: int, data: bytes = b"", sw1: int = 0x00, sw2: int = 0x00) -> bytes:
    return _frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True, slots=True)
class Packet:
    """One frame's body between LEN and CHK: for a response, SW1 SW2 SW3 then data."""

    body: bytes

    @property
    def sw3(self) -> int:
        return self.body[2] if len(self.body) >= 3 else -1

    @property
    def data(self) -> bytes:
        return self.body[3:]


class Decoder(ResyncDecoder[Packet]):
    marker = PREAMBLE

    def parse_at(self, buf: bytearray, i: int) -> tuple[Packet, int] | str:
        if len(buf) - i < 7:
            return "incomplete"
        (length,) = struct.unpack_from(">H", buf, i + 5)
        if length < 2 or length > 4096:
            return "bad length"
        total = 7 + length
        if len(buf) - i < total:
            return "incomplete"
        frame = bytes(buf[i:i + total])
        if xor(frame[5:-1]) != frame[-1]:
            return "checksum mismatch"
        return Packet(frame[7:-1]), total


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """All the hall keeps of a swiped card. `number` and `name` are there only when asked
    for (for a real-name review report), and only until the hall has sealed them; never
    in a repr."""

    identity_hash: str
    masked: str
    birth_date: dt.date
    number: str | None = field(default=None, repr=False, compare=False)
    name: str | None = field(default=None, repr=False, compare=False)

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


class CardError(ValueError):
    pass


def _field(text: bytes, name: str) -> str:
    offset, size = FIELDS[name]
    return text[offset: offset + size].decode("utf-16-le", errors="strict").rstrip(" \x00")


def read_identity(base_info: bytes, hasher: Callable[[str], str],
                  for_report: bool = False) -> CardIdentity:
    """The data of a base-information answer to what may be kept. `hasher` is the keyed
    hash of controller.core.identity, bound to the hall's key. With `for_report`, the ID
    number and the name too, for the caller to seal at once (controller/store/sealed.py).
    The address and photo are never looked at."""
    if len(base_info) < 4 + TEXT_LEN:
        raise CardError("base information too short")
    text_len, _photo_len = struct.unpack_from(">HH", base_info, 0)
    if text_len != TEXT_LEN:
        raise CardError(f"text block of {text_len} bytes, expected {TEXT_LEN}")
    text = base_info[4: 4 + TEXT_LEN]
    try:
        number = _field(text, "id_number")
        birth = _field(text, "birth")
        name = _field(text, "name") if for_report else None
    except UnicodeDecodeError:
        raise CardError("text block is not UCS-2") from None
    if len(number) != 18 or len(birth) != 8 or not birth.isdigit():
        raise CardError("ID number or birth date malformed")
    try:
        born = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        raise CardError("birth date is not a date") from None
    try:
        identity_hash = hasher(number)
    except ValueError as exc:  # IdentityError: a bad check digit
        raise CardError(str(exc)) from None
    masked = number[:4] + "*" * 10 + number[-4:]
    return CardIdentity(identity_hash, masked, born, number if for_report else None,
                        name or None)


def base_info_block(name: str, sex: str, ethnicity: str, birth: str, address: str,
                    id_number: str, issuer: str = "", valid_from: str = "",
                    valid_to: str = "", photo: bytes = b"\x00" * 1024) -> bytes:
    """The card's side (simulator and tests): the base-information data of a card."""
    text = bytearray(b"\x20\x00" * (TEXT_LEN // 2))
    for key, value in (("name", name), ("sex", sex), ("ethnicity", ethnicity),
                       ("birth", birth), ("address", address), ("id_number", id_number),
                       ("issuer", issuer), ("valid_from", valid_from), ("valid_to", valid_to)):
        offset, size = FIELDS[key]
        raw = value.encode("utf-16-le")[:size]
        text[offset: offset + len(raw)] = raw
    return struct.pack(">HH", TEXT_LEN, len(photo)) + bytes(text) + photo
