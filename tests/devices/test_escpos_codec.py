"""ESC/POS ticket layout in GB18030, the paper status, and the printer-side interpreter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import escpos
from firmware_bridges.escpos import Interpreter, TicketContent

CONTENT = TicketContent("示范区政务服务中心", "示范区", "不动产登记", "A001", 3,
                        "2026-11-27 10:15", "http://hall.local/q/A001")


def test_ticket_bytes() -> None:
    raw = escpos.ticket(CONTENT)
    assert raw.startswith(b"\x1b@\x1c&\x1ba\x01")
    assert raw.endswith(b"\x1bd\x03\x1dV\x01\x1c.")  # feed, partial cut, Chinese mode off
    assert "你前面还有 3 人在等待".encode("gb18030") in raw
    assert escpos.WAIT_LINE.encode("gb18030") in raw
    assert escpos.NO_SHOW_LINE.encode("gb18030") in raw
    # the number in large type: bold, GS ! 0x33, FS ! 0x0C, then back to normal
    assert b"\x1bE\x01\x1d!\x33\x1c!\x0cA001\n\x1d!\x00\x1c!\x00\x1bE\x00" in raw


def test_qr_exact_bytes() -> None:
    assert escpos.qr_code("AB") == bytes.fromhex(
        "1d286b 0400 31 41 32 00"
        "1d286b 0300 31 43 06"
        "1d286b 0300 31 45 31"
        "1d286b 0500 31 50 30 41 42"
        "1d286b 0300 31 51 30")


def test_interpreter_reads_the_ticket_back() -> None:
    cut, status = Interpreter().feed(escpos.ticket(CONTENT))
    (printed,) = cut
    assert status == []
    assert printed.cut and printed.qr == ["http://hall.local/q/A001"]
    assert ("A001", True) in printed.lines
    assert printed.lines[0] == ("示范区政务服务中心", True)
    assert "过号无效，请您重新取号" in printed.text()


def test_interpreter_split_anywhere() -> None:
    raw = escpos.ticket(CONTENT) + escpos.STATUS_PAPER
    for cut_at in range(0, len(raw), 5):
        i = Interpreter()
        a, s1 = i.feed(raw[:cut_at])
        b, s2 = i.feed(raw[cut_at:])
        assert len(a + b) == 1 and (a + b)[0].lines[3] == ("A001", True)
        assert s1 + s2 == [4]


def test_status_byte() -> None:
    assert escpos.parse_status(0x12) == escpos.PaperStatus(False, False)
    assert escpos.parse_status(0x72).paper_out
    assert escpos.parse_status(0x1E).near_end
    for b in (0x00, 0xFF, 0x13):
        try:
            escpos.parse_status(b)
        except ValueError:
            continue
        raise AssertionError(f"{b:#x} accepted")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_never_raises(noise: bytes) -> None:
    Interpreter().feed(noise)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100).filter(lambda b: b"\x1d(" not in b and not b.endswith(
    (b"\x1b", b"\x1d", b"\x1c", b"\x10"))))
def test_prints_after_noise(noise: bytes) -> None:
    cut, _ = Interpreter().feed(noise + escpos.ticket(CONTENT))
    assert cut and ("A001", True) in cut[-1].lines


def test_unknown_command_counted_then_ticket_prints() -> None:
    i = Interpreter()
    cut, _ = i.feed(b"\x1b\xfe" + escpos.ticket(CONTENT))
    assert i.stats.bad_frames == 1 and len(cut) == 1
