"""Identity numbers in `controller.core.identity`: checked, hashed with the hall's key, masked.

Covers the GB 11643-1999 check digit of resident ID numbers, the GB 32100-2015 check
character of unified social credit codes, mainland mobile numbers,
normalisation (spaces, lower-case x), the keyed hash (HMAC-SHA256: stable per key,
different across keys, never the clear value), and the masks shown to people.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.identity import (
    IdentityError,
    credit_code,
    id_checksum_ok,
    keyed_hash,
    mask_id,
    mask_name,
    normalize,
    scrub,
)

# The worked examples of GB 11643-1999 itself.
VALID_IDS = ("11010519491231002X", "440524188001010014")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_digit(first17: str) -> str:
    """The check character, computed independently of the module under test."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_id_numbers(number: str) -> None:
    assert id_checksum_ok(number)
    assert normalize(number) == number


@pytest.mark.parametrize("number", ["110105194912310021", "110105194912310020",
                                    "440524188001010015", "44052418800101001X"])
def test_wrong_check_digit(number: str) -> None:
    assert not id_checksum_ok(number)
    with pytest.raises(IdentityError, match="check digit"):
        normalize(number)


def test_check_digit_ten_is_x() -> None:
    assert check_digit("11010519491231002") == "X"
    assert not id_checksum_ok("110105194912310020")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["11", "33", "44", "65", "82"]).map(str)
       .flatmap(lambda p: st.text(alphabet="0123456789", min_size=4, max_size=4)
                .map(lambda rest: p + rest)),
       st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.text(alphabet="0123456789", min_size=3, max_size=3))
def test_exactly_one_check_character_is_right(region: str, born: dt.date, order: str) -> None:
    first17 = region + born.strftime("%Y%m%d") + order
    good = [c for c in "0123456789X" if id_checksum_ok(first17 + c)]
    assert good == [check_digit(first17)]
    assert normalize(first17 + good[0]) == first17 + good[0]


@pytest.mark.parametrize("born", ["19491331", "19490230", "00000000", "17991231"])
def test_an_id_number_without_a_real_birth_date_is_refused(born: str) -> None:
    first17 = "110105" + born + "002"
    with pytest.raises(IdentityError, match="birth date"):
        normalize(first17 + check_digit(first17))


def test_normalize_strips_spaces_and_upper_cases_x() -> None:
    assert normalize(" 1101 0519 4912 3100 2x ") == "11010519491231002X"
    assert normalize("138 1234 5678") == "13812345678"


@pytest.mark.parametrize("phone", ["13812345678", "19900000000", "15000000001"])
def test_mobile_numbers(phone: str) -> None:
    assert normalize(phone) == phone


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12812345678",  # no mobile number starts 12
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "+8613812345678",
        "110105491231002",  # the old 15-digit ID format
        "1101051949123100XX",
        "A1010519491231002X",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    ],
)
def test_other_inputs_are_refused(raw: str) -> None:
    with pytest.raises(IdentityError, match="18-character ID number or an 11-digit mobile"):
        normalize(raw)


def test_keyed_hash_is_hmac_sha256_of_the_normal_form() -> None:
    key = b"hall-secret"
    expected = hmac.new(key, b"11010519491231002X", hashlib.sha256).hexdigest()
    assert keyed_hash(key, "11010519491231002X") == expected
    assert keyed_hash(key, " 11010519491231002x") == expected
    assert len(expected) == 64 and int(expected, 16) >= 0
    assert "11010519491231002X" not in expected


def test_keyed_hash_is_stable_per_key_and_differs_across_keys() -> None:
    a1 = keyed_hash(b"hall-a", "13812345678")
    assert keyed_hash(b"hall-a", "13812345678") == a1
    assert keyed_hash(b"hall-b", "13812345678") != a1
    assert keyed_hash(b"hall-a", "13812345679") != a1
    # a plain unkeyed digest is not what is stored
    assert hashlib.sha256(b"13812345678").hexdigest() != a1


def test_keyed_hash_refuses_bad_input() -> None:
    with pytest.raises(IdentityError):
        keyed_hash(b"k", "110105194912310021")


def test_mask_id() -> None:
    assert mask_id("330102199001011234") == "3301**********1234"
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert mask_id("13812345678") == "1381***5678"


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张*丰"), ("李四", "李*"), ("王", "*"), ("", ""),
     ("欧阳娜娜", "欧**娜"), ("阿卜杜热合曼", "阿****曼")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# ---- unified social credit codes (GB 32100-2015) ----------------------------------------

# Codes of well-known companies, from their public business registrations.
VALID_CREDIT_CODES = ("9144030071526726XG", "91330100716105852F", "91110000802100433B",
                      "91350100M000100Y43")
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_check(first17: str) -> str:
    """The check character, computed independently of the module under test."""
    weights = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, ... : 3^i mod 31
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(first17, weights, strict=True))
    return CREDIT_CHARS[-total % 31]


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_valid_credit_codes(code: str) -> None:
    assert credit_code(code) == code
    assert credit_check(code[:17]) == code[17]


def test_credit_codes_are_normalised() -> None:
    assert credit_code(" 9144 0300 7152 6726 xg ") == "9144030071526726XG"


@pytest.mark.parametrize("raw", ["9144030071526726XH", "91330100716105852E",
                                 "914403007152672", "9144030071526726XGG",
                                 "91440300715267260I",  # I is not in the alphabet
                                 "91A40300715267260G",  # the area code is digits
                                 "11010519491231002X", ""])
def test_bad_credit_codes_are_refused(raw: str) -> None:
    with pytest.raises(IdentityError):
        credit_code(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=CREDIT_CHARS, min_size=2, max_size=2),
       st.text(alphabet="0123456789", min_size=6, max_size=6),
       st.text(alphabet=CREDIT_CHARS, min_size=9, max_size=9),
       st.integers(0, 16), st.sampled_from(CREDIT_CHARS))
def test_one_changed_character_is_always_caught(head: str, area: str, body: str,
                                                where: int, other: str) -> None:
    first17 = head + area + body
    code = first17 + credit_check(first17)
    assert credit_code(code) == code
    changed = code[:where] + other + code[where + 1:]
    if changed != code:  # mod 31 with weights prime to 31 catches every single change
        with pytest.raises(IdentityError):
            credit_code(changed)


@pytest.mark.parametrize("code", ["913302822503122341", "913205831801039384"])
def test_a_credit_code_with_a_date_inside_is_still_a_credit_code(code: str) -> None:
    """A county-level city's area code ends in 8x: "8225-03-12" in the 7th-14th characters
    is a date on paper, but no person was born in 8225, and 91 is no province."""
    assert credit_code(code) == code


@pytest.mark.parametrize(("first17", "why"), [("99010519491231002", "province"),
                                              ("11010521491231002", "birth date")])
def test_an_id_number_needs_a_province_and_a_plausible_year(first17: str, why: str) -> None:
    with pytest.raises(IdentityError, match=why):
        normalize(first17 + check_digit(first17))


def test_a_resident_id_number_is_not_taken_as_a_credit_code() -> None:
    """About one ID number in 31 passes the credit code's check too; as a company's code it
    would be kept, streamed and reported in clear."""
    number = "33010619880512012X"
    assert id_checksum_ok(number)
    with pytest.raises(IdentityError, match="resident ID number"):
        credit_code(number)
    for code in VALID_CREDIT_CODES:
        assert credit_code(code) == code


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("请回电13912345678", "请回电1*********8"),
    ("电话 139.1234.5678 或 139-1234-5678", "电话 1*********8 或 1*********8"),
    ("座机(0571) 8888 1234", "座机(0**********4"),
    ("身份证11010519491231002x号", "身份证1****************x号"),
    ("3.5分, 第12号窗口, 2号楼", "3.5分, 第12号窗口, 2号楼"),
    ("１３９１２３４５６７８", "１*********８"),  # full-width digits
    ("１３９－１２３４－５６７８ 或 １３９．１２３４．５６７８", "１*********８ 或 １*********８"),
    ("139—1234—5678", "1*********8"),
    ("１１０１０５１９４９１２３１００２Ｘ", "１****************Ｘ"),
    ("补正期限 2026-12-05, 或 2026.12.5 前", "补正期限 2026-12-05, 或 2026.12.5 前"),
    ("期限2026-12-05 13912345678", "期限2*****************8"),  # run together: masked
    ("", ""),
])
def test_scrub_masks_the_numbers_people_type(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed
