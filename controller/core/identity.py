"""Identity numbers: checked, then reduced to a keyed hash or a masked form, never kept.

The hash is HMAC-SHA256 under the hall's own secret key, so the same person matches
across tickets (per-person limits, appointments) while a leaked database cannot be
reversed by hashing every possible ID number (there are only about 10^11 of them).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re

_ID18 = re.compile(r"\d{17}[\dX]")
_PHONE = re.compile(r"1[3-9]\d{9}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class IdentityError(ValueError):
    pass


def check_digit(first17: str) -> str:
    """GB 11643-1999: the 18th character, a mod-11 check over the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_checksum_ok(number: str) -> bool:
    return check_digit(number[:17]) == number[17]


def normalize(raw: str) -> str:
    """A resident ID number (18 characters, checksum verified) or a mainland mobile number."""
    value = raw.strip().upper().replace(" ", "")
    if _ID18.fullmatch(value):
        if not id_checksum_ok(value):
            raise IdentityError("ID number check digit is wrong")
        if int(value[:2]) not in _PROVINCES:
            raise IdentityError("ID number's first two digits are no province's code")
        if _birth_date(value) is None:
            raise IdentityError("ID number's 7th-14th digits are not a birth date")
        return value
    if _PHONE.fullmatch(value):
        return value
    raise IdentityError("identity must be an 18-character ID number or an 11-digit mobile number")


def id_number_of(raw: str) -> str | None:
    """The resident ID number given (normalised, checked), or None for a mobile number."""
    value = normalize(raw)
    return value if _ID18.fullmatch(value) else None


# GB 32100-2015, the unified social credit code (统一社会信用代码) of a legal entity: 18
# characters from these 31 (no I, O, S, V, Z), the last a mod-31 check over the first 17.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}\d{6}[0-9A-HJ-NP-RTUWXY]{10}")


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(ch) * w
                for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code(raw: str) -> str:
    """A legal entity's unified social credit code, normalised (upper case, no spaces) and
    checked. Not personal data: it names a company or institution in a public register,
    so it is kept and reported as it is (the review record's `certkeyGOV` for userProp 2)."""
    value = raw.strip().upper().replace(" ", "")
    if not _CREDIT.fullmatch(value):
        raise IdentityError("a unified social credit code is 18 characters: digits and "
                            "capital letters other than I, O, S, V, Z, the 3rd-8th digits")
    if credit_check_char(value[:17]) != value[17]:
        raise IdentityError("the unified social credit code's check character is wrong")
    if looks_like_id_number(value):
        # About one ID number in 31 also passes the credit code's check; kept as a company's
        # code it would be shown, streamed and sent up in clear.
        raise IdentityError("this is a resident ID number, not a unified social credit code")
    return value


def looks_like_id_number(value: str) -> bool:
    """An 18-character resident ID number: a province's code in the first two digits, a
    real birth date in the 7th-14th and the right check digit. A company's credit code
    almost never passes all three (its first two characters say which register and what
    kind of entity: 91, 92, 93... are no province)."""
    return (bool(_ID18.fullmatch(value)) and id_checksum_ok(value)
            and int(value[:2]) in _PROVINCES and _birth_date(value) is not None)


# GB/T 2260: the provinces' codes, the first two digits of every resident ID number.
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                        43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
                        83})


def _birth_date(number: str) -> datetime.date | None:
    """The 7th-14th digits as a date from 1800 (GB 11643's own example was born in 1880)
    to 2100, else None. The core reads no clock, so "not in the future" is left to the
    bound: a company's credit code holds "8225-03-12" there often enough (an area code
    ending in 82) to need it."""
    try:
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    return born if 1800 <= born.year <= 2100 else None


def keyed_hash(key: bytes, raw: str) -> str:
    return hmac.new(key, normalize(raw).encode("ascii"), hashlib.sha256).hexdigest()


def mask_id(number: str) -> str:
    """3301**********1234: what a person may see of an ID number."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """张*三 / 李* / * : first and (for three or more characters) last kept; a name of one
    character is all hidden."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# Seven or more digits, possibly broken up by spaces, dashes, dots or brackets, as people
# write a phone or an ID number into free text (139.1234.5678, 0571-8888 1234), with the
# full-width forms a Chinese input method types (１３９－１２３４－５６７８) and the other dashes.
_SEPARATORS = r"\s\-.()·\uFF0D\uFF0E\uFF08\uFF09\u2010-\u2015"
_LONG_NUMBER = re.compile(
    rf"\d(?:[{_SEPARATORS}]*\d){{6,}}(?:[{_SEPARATORS}]*[XxＸｘ](?![A-Za-zＡ-Ｚａ-ｚ]))?")
# A date written out (2026-12-05, 2026.12.5) is left as it is: staff write deadlines into
# notes, and no phone or ID number has that shape.
_DATE = re.compile(r"(?:19|20)\d\d([-.－．])\d{1,2}\1\d{1,2}")


def scrub(text: str) -> str:
    """Free text people type (a comment, a note, a reason, an upstream's error answer) with
    every long number in it masked, first and last digit kept: 1*********8. A name cannot be
    told from other words, so free text is also kept off public streams where it can be
    (`core.events.PRIVATE_KEYS`)."""
    def mask(match: re.Match[str]) -> str:
        if _DATE.fullmatch(match.group(0)):
            return match.group(0)
        chars = re.sub(rf"[{_SEPARATORS}]", "", match.group(0))
        return chars[0] + "*" * (len(chars) - 2) + chars[-1]
    return _LONG_NUMBER.sub(mask, text)
