"""Modbus people counter: in and out counts from the registers its profile declares.

Pure codec, no I/O: which registers to read (one block) and how to turn their values into
counts. No public register map exists; each model's profile names the table (input or
holding), the address and width (16 or 32 bits, word order) of each counter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Register:
    address: int
    words: int = 1  # 1: u16, 2: u32
    big_word_first: bool = True


@dataclass(frozen=True, slots=True)
class CounterMap:
    table: str  # "input" or "holding"
    counters: dict[str, Register]  # "in", "out" (and any other the model has)

    def block(self) -> tuple[int, int]:
        """(first address, count): one read covers every counter."""
        first = min(r.address for r in self.counters.values())
        last = max(r.address + r.words for r in self.counters.values())
        return first, last - first


def decode(cmap: CounterMap, registers: list[int]) -> dict[str, int]:
    """Values of the block from `block()` to counts; ValueError on a short answer."""
    first, count = cmap.block()
    if len(registers) < count:
        raise ValueError(f"expected {count} registers, got {len(registers)}")
    out: dict[str, int] = {}
    for name, reg in cmap.counters.items():
        words = registers[reg.address - first: reg.address - first + reg.words]
        if any(not 0 <= w <= 0xFFFF for w in words):
            raise ValueError("register value out of range")
        if reg.words == 1:
            out[name] = words[0]
        else:
            hi, lo = (words[0], words[1]) if reg.big_word_first else (words[1], words[0])
            out[name] = (hi << 16) | lo
    return out


def encode(cmap: CounterMap, counts: dict[str, int]) -> dict[int, int]:
    """Counts to register values (the simulator's side)."""
    out: dict[int, int] = {}
    for name, reg in cmap.counters.items():
        value = counts.get(name, 0)
        if reg.words == 1:
            out[reg.address] = value & 0xFFFF
        else:
            hi, lo = (value >> 16) & 0xFFFF, value & 0xFFFF
            first, second = (hi, lo) if reg.big_word_first else (lo, hi)
            out[reg.address], out[reg.address + 1] = first, second
    return out
