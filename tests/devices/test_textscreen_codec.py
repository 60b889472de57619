"""Our RS-485 text-screen protocol: exact bytes, round trips, fuzzing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import textscreen as ts
from firmware_bridges.onbon import crc16_arc
from firmware_bridges.textscreen import Decoder, ScreenFrame


def test_show_exact_bytes() -> None:
    raw = ts.show(1, "A001")
    body = bytes.fromhex("01 10 06 00 00") + b"A001"
    crc = crc16_arc(body)
    assert crc == 0x7BAB
    assert raw == bytes.fromhex("55 aa") + body + bytes.fromhex("ab 7b")


def test_status_and_reply() -> None:
    assert ts.status(3)[:5] == bytes.fromhex("55 aa 03 20 00")
    (f,) = Decoder().feed(ts.reply(3, ts.CMD_STATUS, ts.STATUS_OK, b"\x02"))
    assert f == ScreenFrame(3, 0xA0, b"\x00\x02")


def test_chinese_text() -> None:
    (f,) = Decoder().feed(ts.show(12, "请A001到12号窗口", line=1, effect=ts.EFFECT_FLASH))
    assert ts.shown_text(f) == (1, ts.EFFECT_FLASH, "请A001到12号窗口")


def test_bad_crc_counted() -> None:
    good = ts.show(1, "B002")
    bad = bytearray(good)
    bad[-1] ^= 0x40
    d = Decoder()
    assert d.feed(bytes(bad) + good) == [ScreenFrame(1, ts.CMD_SHOW, b"\x00\x00B002")]
    assert d.stats.bad_frames == 1


frames = st.builds(ScreenFrame, st.integers(0, 247), st.integers(0, 255), st.binary(max_size=60))


@settings(deadline=None)
@given(frames)
def test_round_trip(f: ScreenFrame) -> None:
    assert Decoder().feed(ts.encode(f)) == [f]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_never_raises(noise: bytes) -> None:
    Decoder().feed(noise)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), frames)
def test_resync(noise: bytes, f: ScreenFrame) -> None:
    raw = ts.encode(f)
    assert Decoder().feed(noise + raw + raw)[-1] == f


@settings(deadline=None)
@given(frames, st.integers(1, 30))
def test_truncated_then_good(f: ScreenFrame, cut: int) -> None:
    raw = ts.encode(f)
    assert Decoder().feed(raw[: max(1, len(raw) - cut)] + raw)[-1] == f
