"""People-counter register maps: one block read, u16 and u32 in either word order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges.counter import CounterMap, Register, decode, encode

MAP16 = CounterMap("input", {"in": Register(0), "out": Register(1)})
MAP32 = CounterMap("holding", {"in": Register(10, 2), "out": Register(12, 2, False)})


def test_block() -> None:
    assert MAP16.block() == (0, 2)
    assert MAP32.block() == (10, 4)


def test_decode_u32_word_orders() -> None:
    assert decode(MAP32, [0x0001, 0x0002, 0x0004, 0x0003]) == {"in": 0x10002, "out": 0x30004}


def test_short_answer() -> None:
    try:
        decode(MAP32, [1, 2])
    except ValueError:
        return
    raise AssertionError


@settings(deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_round_trip(a: int, b: int) -> None:
    regs = encode(MAP32, {"in": a, "out": b})
    first, count = MAP32.block()
    assert decode(MAP32, [regs[first + i] for i in range(count)]) == {"in": a, "out": b}
