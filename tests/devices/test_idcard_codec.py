"""ID-card reader frames and the base-information block: only hash, mask and birth date."""

from __future__ import annotations

import datetime as dt
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import idcard
from firmware_bridges.idcard import Decoder, Packet

ID = "11010519491231002X"  # the standard's example number, valid check digit


def _hash(number: str) -> str:
    return hashlib.sha256(b"k" + number.encode()).hexdigest()


def test_known_request_frames() -> None:
    assert idcard.request(*idcard.FIND) == bytes.fromhex("aa aa aa 96 69 00 03 20 01 22")
    assert idcard.request(*idcard.SELECT) == bytes.fromhex("aa aa aa 96 69 00 03 20 02 21")
    assert idcard.request(*idcard.READ_BASE) == bytes.fromhex("aa aa aa 96 69 00 03 30 01 32")


def test_find_answer_exact() -> None:
    # 00 04 | 00 00 9F | CHK = 00^04^00^00^9F = 9B
    assert idcard.response(idcard.SW_FOUND) == bytes.fromhex("aa aa aa 96 69 00 04 00 00 9f 9b")


def test_base_info_frame_length() -> None:
    block = idcard.base_info_block("张三", "1", "01", "19491231", "北京市", ID)
    raw = idcard.response(idcard.SW_OK, block)
    assert raw[5:7] == bytes.fromhex("05 08")  # 3 + 4 + 256 + 1024 + 1 = 1288
    (packet,) = Decoder().feed(raw)
    assert packet.sw3 == 0x90


def test_read_identity_keeps_only_hash_mask_birth() -> None:
    block = idcard.base_info_block("张三", "1", "01", "19491231", "北京市东城区", ID,
                                   photo=b"\xff" * 1024)
    card = idcard.read_identity(block, _hash)
    assert card == idcard.CardIdentity(_hash(ID), "1101**********002X", dt.date(1949, 12, 31))
    assert card.age_on(dt.date(2026, 11, 27)) == 76
    assert card.age_on(dt.date(2009, 12, 30)) == 59
    assert ID not in repr(card) and "张三" not in repr(card)
    assert set(idcard.CardIdentity.__slots__) == {"identity_hash", "masked", "birth_date",
                                                  "number", "name"}
    assert card.number is None and card.name is None  # kept only when asked for


def test_number_and_name_are_handed_on_only_when_asked_and_never_shown() -> None:
    """With real-name review reports on, the caller seals them at once
    (controller/store/sealed.py); they never appear in the card's repr."""
    block = idcard.base_info_block("张三", "1", "01", "19491231", "北京市东城区", ID)
    card = idcard.read_identity(block, _hash, for_report=True)
    assert (card.number, card.name) == (ID, "张三")
    for shown in (repr(card), str(card)):
        assert ID not in shown and "张三" not in shown and "北京" not in shown
    assert card == idcard.read_identity(block, _hash)  # the same card either way


def test_bad_blocks_are_card_errors() -> None:
    for block in (b"", b"\x01\x00\x04\x00" + b"\x00" * 10,
                  idcard.base_info_block("x", "1", "01", "1949AB31", "", ID),
                  idcard.base_info_block("x", "1", "01", "19491331", "", ID),
                  idcard.base_info_block("x", "1", "01", "19491231", "", "123")):
        try:
            idcard.read_identity(block, _hash)
        except idcard.CardError:
            continue
        raise AssertionError("accepted a bad block")


def test_bad_checksum_skipped_then_good() -> None:
    good = idcard.response(idcard.SW_OK)
    bad = bytearray(good)
    bad[-1] ^= 1
    d = Decoder()
    assert d.feed(bytes(bad) + good) == [Packet(b"\x00\x00\x90")]
    assert d.stats.bad_frames == 1


packets = st.binary(min_size=1, max_size=300)


@settings(deadline=None)
@given(packets)
def test_round_trip(body: bytes) -> None:
    assert Decoder().feed(idcard._frame(body)) == [Packet(body)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_never_raises(noise: bytes) -> None:
    Decoder().feed(noise)
    Decoder().feed(idcard.PREAMBLE + noise)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), packets)
def test_resync(noise: bytes, body: bytes) -> None:
    raw = idcard._frame(body)
    assert Decoder().feed(noise + raw + raw)[-1] == Packet(body)
