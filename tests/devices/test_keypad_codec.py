"""Caller/evaluator keypad frames: exact bytes, round trips, and a decoder that never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import keypad
from firmware_bridges.keypad import Decoder, Key, KeypadFrame

frames = st.builds(KeypadFrame, st.integers(0, 255), st.integers(0, 255),
                   st.binary(max_size=40))


def test_display_frame_exact_bytes() -> None:
    # ADDR 1, FUNC 2, digits blank blank blank 1 2 3: CS = 1+2+3*0x0A+1+2+3 = 0x27
    assert keypad.display(1, 123) == bytes.fromhex("ff 68 08 08 68 01 02 0a 0a 0a 01 02 03 27 16")


def test_key_frame_exact_bytes_and_meaning() -> None:
    # window keypad 5 presses CALL: L = 3, CS = 5 + 4 + 0x0C = 0x15
    raw = bytes.fromhex("ff 68 03 03 68 05 04 0c 15 16")
    assert keypad.encode(KeypadFrame(5, keypad.FUNC_KEY, b"\x0c")) == raw
    (frame,) = Decoder().feed(raw)
    press = keypad.interpret(frame)
    assert press is not None and press.address == 5 and press.key == Key.CALL


def test_beep_and_poll() -> None:
    assert keypad.beep(2) == bytes.fromhex("ff 68 02 02 68 02 03 05 16")
    assert keypad.poll(0x10) == bytes.fromhex("ff 68 02 02 68 10 01 11 16")


def test_checksum_wraps_mod_256() -> None:
    raw = keypad.encode(KeypadFrame(0xF0, 0x20, b"\x20"))
    assert raw[-2] == (0xF0 + 0x20 + 0x20) % 256 == 0x30


def test_ticket_display_digits() -> None:
    (frame,) = Decoder().feed(keypad.display_ticket(3, "A017", 12))
    assert keypad.shown_digits(frame) == "017 12"
    (frame,) = Decoder().feed(keypad.display_ticket(3, None, 0))
    assert keypad.shown_digits(frame) == "     0"


def test_evaluator_level_map_for_four_keys() -> None:
    levels = {1: 5, 2: 4, 3: 3, 4: 1}  # a 4-key evaluator: no 不满意 key
    frame = KeypadFrame(9, keypad.FUNC_EVALUATE, b"\x04")
    press = keypad.interpret(frame, levels=levels)
    assert press is not None and press.level == 1
    assert keypad.interpret(KeypadFrame(9, keypad.FUNC_EVALUATE, b"\x07"), levels=levels) is None
    five = keypad.interpret(KeypadFrame(9, keypad.FUNC_EVALUATE, b"\x05"))
    assert five is not None and five.level == 5


def test_digit_before_confirm() -> None:
    press = keypad.interpret(KeypadFrame(4, keypad.FUNC_KEY, b"\x02\x0f"))
    assert press is not None and press.key == Key.CONFIRM and press.digit == 2


def test_lengths_that_differ_are_rejected() -> None:
    d = Decoder()
    bad = bytearray(keypad.beep(1))
    bad[3] = 0x03
    assert d.feed(bytes(bad)) == []
    assert d.stats.bad_frames >= 1
    assert d.feed(keypad.beep(1)) == [KeypadFrame(1, keypad.FUNC_BEEP)]


def test_bad_checksum_counted_then_next_frame() -> None:
    d = Decoder()
    good = keypad.display(1, 5)
    bad = bytearray(good)
    bad[-2] ^= 0xFF
    out = d.feed(good + bytes(bad) + good)
    assert out == [KeypadFrame(1, 2, bytes([10] * 5 + [5]))] * 2
    assert d.stats.bad_frames == 1


def test_split_anywhere() -> None:
    raw = keypad.display(7, 42) + keypad.beep(7)
    for cut in range(len(raw) + 1):
        d = Decoder()
        assert d.feed(raw[:cut]) + d.feed(raw[cut:]) == [
            KeypadFrame(7, 2, bytes([10, 10, 10, 10, 4, 2])), KeypadFrame(7, 3)]


@settings(deadline=None)
@given(frames)
def test_round_trip(frame: KeypadFrame) -> None:
    assert Decoder().feed(keypad.encode(frame)) == [frame]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_input_never_raises(noise: bytes) -> None:
    d = Decoder()
    d.feed(noise)
    for i in range(0, len(noise), 7):
        Decoder().feed(noise[:i])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), frames)
def test_resynchronises_after_noise(noise: bytes, frame: KeypadFrame) -> None:
    d = Decoder()
    raw = keypad.encode(frame)
    out = d.feed(noise + raw + raw)
    assert out[-1] == frame


@settings(deadline=None)
@given(frames, st.integers(1, 30))
def test_truncated_frame_then_good(frame: KeypadFrame, cut: int) -> None:
    raw = keypad.encode(frame)
    d = Decoder()
    out = d.feed(raw[: max(1, len(raw) - cut)] + raw)
    assert out[-1] == frame
