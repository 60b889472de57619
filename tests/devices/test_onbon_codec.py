"""Onbon BX-5/6 dynamic-area frames: CRC-16/ARC, escaping, exact bytes, fuzzing."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import onbon
from firmware_bridges.onbon import Area, Decoder


def _crc_table_driven(data: bytes) -> int:
    """An independent CRC-16/ARC (table driven) to check the bitwise one against."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    crc = 0
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def test_crc_check_value() -> None:
    assert onbon.crc16_arc(b"123456789") == 0xBB3D
    assert onbon.crc16_arc(b"") == 0


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_crc_matches_table_driven(data: bytes) -> None:
    assert onbon.crc16_arc(data) == _crc_table_driven(data)


def test_escaping_of_each_special_byte() -> None:
    assert onbon.escape(bytes([0xA5, 0xA6, 0x5A, 0x5B, 0x00])) == bytes.fromhex(
        "a6 02 a6 01 5b 02 5b 01 00")
    assert onbon.unescape(bytes.fromhex("a6 02 a6 01 5b 02 5b 01 00")) == bytes(
        [0xA5, 0xA6, 0x5A, 0x5B, 0x00])


@settings(deadline=None)
@given(st.binary(max_size=100))
def test_escape_round_trip_and_no_frame_bytes(data: bytes) -> None:
    escaped = onbon.escape(data)
    assert 0xA5 not in escaped and 0x5A not in escaped
    assert onbon.unescape(escaped) == data


def test_exact_frame_of_a_short_text() -> None:
    raw = onbon.show_text("A1", Area(1, "", 0, 0, 64, 16))
    area = (bytes.fromhex("00 0000 0000 0800 1000 01 00 00 0000 000000 02 00 01 00 01 0a")
            + struct.pack("<I", 2) + b"A1")
    request = bytes.fromhex("a3 06 01 00 00 00 01") + struct.pack("<H", len(area)) + area
    assert len(area) == 29 and len(request) == 38
    header = bytes.fromhex("fe ff 00 80 00 00 00 00 00 00 fe 02") + struct.pack("<H", 38)
    crc = _crc_table_driven(header + request)
    body = header + request + struct.pack("<H", crc)
    expected = b"\xa5" * 8 + onbon.escape(body) + b"\x5a"
    assert raw == expected
    (frame,) = Decoder().feed(raw)
    assert frame.areas[0].text == "A1" and frame.areas[0].area_id == 1


def test_escaping_inside_a_real_frame() -> None:
    # destination 0x5AA5 forces both escapes in the header
    raw = onbon.frame(onbon.dynamic_area_request([Area(0, "x")]), destination=0x5AA5)
    assert raw[8:12] == bytes.fromhex("a6 02 5b 02")
    assert raw.count(b"\x5a") == 1 and raw.endswith(b"\x5a")
    (frame,) = Decoder().feed(raw)
    assert frame.destination == 0x5AA5


def test_gbk_text_round_trip() -> None:
    raw = onbon.show_text("请A001号到3号窗口办理", Area(2, "", 8, 16, 128, 32, onbon.LEFT))
    (frame,) = Decoder().feed(raw)
    a = frame.areas[0]
    assert (a.text, a.area_id, a.x, a.y, a.width, a.height, a.display_mode) == (
        "请A001号到3号窗口办理", 2, 8, 16, 128, 32, onbon.LEFT)


def test_bad_crc_counted_and_skipped() -> None:
    good = onbon.show_text("A002")
    bad = bytearray(good)
    bad[-2] ^= 0x01 if bad[-2] not in (0xA4, 0x5B, 0xA7, 0x5A, 0x5B) else 0x10
    d = Decoder()
    out = d.feed(bytes(bad) + good)
    assert [f.areas[0].text for f in out] == ["A002"]
    assert d.stats.bad_frames == 1


def test_ack_frame() -> None:
    (frame,) = Decoder().feed(onbon.ack(0))
    assert (frame.group, frame.command, frame.payload) == (0xA0, 0x00, b"\x00")


areas = st.builds(
    Area, st.integers(0, 255), st.text(st.sampled_from("A0123456789请到号窗口办理暂停服务"),
                                          max_size=30),
    st.integers(0, 32).map(lambda v: v * 8), st.integers(0, 200),
    st.integers(1, 64).map(lambda v: v * 8), st.integers(1, 200), st.integers(1, 6))


@settings(deadline=None)
@given(areas, st.integers(0, 0xFFFF))
def test_round_trip(area: Area, destination: int) -> None:
    (frame,) = Decoder().feed(onbon.frame(onbon.dynamic_area_request([area]), destination))
    assert frame.areas == (area,) and frame.destination == destination


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_input_never_raises(noise: bytes) -> None:
    Decoder().feed(noise)
    Decoder().feed(b"\xa5" * 8 + noise + b"\x5a")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), areas)
def test_resynchronises_after_noise(noise: bytes, area: Area) -> None:
    raw = onbon.frame(onbon.dynamic_area_request([area]))
    out = Decoder().feed(noise + raw)
    assert out and out[-1].areas == (area,)


@settings(deadline=None)
@given(areas, st.integers(1, 40))
def test_truncated_then_good(area: Area, cut: int) -> None:
    raw = onbon.frame(onbon.dynamic_area_request([area]))
    d = Decoder()
    out = d.feed(raw[: max(1, len(raw) - cut)] + raw)
    assert out[-1].areas == (area,)
