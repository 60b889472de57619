"""Announcement text: ticket numbers digit by digit, window numbers as numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.voice.text import (
    DIGITS,
    announcement,
    check_template,
    digits_zh,
    number_zh,
)

WINDOWS = {
    1: "一", 2: "二", 9: "九", 10: "十", 11: "十一", 12: "十二", 19: "十九", 20: "二十",
    21: "二十一", 30: "三十", 99: "九十九", 100: "一百", 101: "一百零一", 105: "一百零五",
    110: "一百一十", 111: "一百一十一", 120: "一百二十", 200: "二百", 999: "九百九十九",
    1000: "一千", 1001: "一千零一", 1010: "一千零一十", 1100: "一千一百", 2024: "二千零二十四",
}


@pytest.mark.parametrize("n,spoken", sorted(WINDOWS.items()))
def test_window_numbers_are_read_as_numbers(n: int, spoken: str) -> None:
    assert number_zh(n) == spoken


@pytest.mark.parametrize("code,spoken", [
    ("A001", "A零零一"), ("A010", "A零一零"), ("B120", "B一二零"), ("H999", "H九九九"),
    ("F100", "F一零零"), ("Z000", "Z零零零"),
])
def test_ticket_numbers_are_read_digit_by_digit(code: str, spoken: str) -> None:
    assert digits_zh(code) == spoken


def test_letters_may_be_given_a_reading() -> None:
    assert digits_zh("A001", {"A": "诶"}) == "诶零零一"


@given(prefix=st.sampled_from("ABCDEFGH"), n=st.integers(1, 999), window=st.integers(1, 99))
def test_every_call_reads_back(prefix: str, n: int, window: int) -> None:
    number = f"{prefix}{n:03d}"
    a = announcement("called", number, window)
    assert a.text == f"请{number}号到{window}号窗口办理"
    spoken_number = prefix + "".join(DIGITS[int(d)] for d in f"{n:03d}")
    assert a.speech == f"请{spoken_number}号到{number_zh(window)}号窗口办理"
    assert not any(ch.isdigit() and ch.isascii() for ch in a.speech)  # nothing left as digits


@given(window=st.integers(1, 9999))
def test_window_reading_has_no_stray_zeros(window: int) -> None:
    spoken = number_zh(window)
    assert not spoken.endswith("零") and "零零" not in spoken
    assert not spoken.startswith("一十")


def test_recall_is_marked() -> None:
    a = announcement("recalled", "A001", 12)
    assert a.text == "再次呼叫，请A001号到12号窗口办理"
    assert a.speech == "再次呼叫，请A零零一号到十二号窗口办理"
    assert announcement("called_back", "A001", 12).text == "请A001号到12号窗口办理"


def test_custom_templates() -> None:
    a = announcement("called", "C023", 7, template="{number}号请到{window}号窗口")
    assert a.speech == "C零二三号请到七号窗口"
    assert check_template("{number}号请到{window}号窗口") is None
    assert check_template("请{number}号") is not None
    assert check_template("请{numbr}号到{window}") is not None
    with pytest.raises(ValueError):
        number_zh(10000)
