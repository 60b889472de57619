"""Announcement text in standard Mandarin: what the hall hears when a window calls.

Pure functions, no I/O. Conventions (docs/voice.md):

- A ticket number is read digit by digit, with 零 for zero: A001 -> A零零一, B120 -> B一二零.
  Read as a quantity (一百二十) it would sound like a count; halls read it as a code.
- The category letter stays a Latin letter in the text. Mandarin speakers in halls say the
  letter's English name (A is "诶", B is "比"); espeak-ng's `cmn` voice and browsers' zh-CN
  voices both read a Latin letter that way, and a hall recording its own voice records one
  file per letter (A.wav). A hall that wants another reading sets `[voice] letters`.
- A window number is read as a number: 3 -> 三, 12 -> 十二, 20 -> 二十, 105 -> 一百零五,
  with 二 (not 两) as in 二号窗口.
- A recall says so first: 再次呼叫，请A零零一号到三号窗口办理.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter

DIGITS = "零一二三四五六七八九"

DEFAULT_TEMPLATE = "请{number}号到{window}号窗口办理"
DEFAULT_RECALL_TEMPLATE = "再次呼叫，请{number}号到{window}号窗口办理"


@dataclass(frozen=True, slots=True)
class Announcement:
    """One call to announce: what the screens print and what the speakers say."""

    kind: str  # "called", "recalled" or "called_back"
    number: str  # the ticket number, e.g. A001
    window: int
    text: str  # for displays: 请A001号到3号窗口办理
    speech: str  # for voices: 请A零零一号到三号窗口办理


def digits_zh(code: str, letters: dict[str, str] | None = None) -> str:
    """A ticket number as spoken: each ASCII digit becomes its Chinese digit, letters stay
    (or become the hall's reading of them from `letters`)."""
    out = []
    for ch in code:
        if ch.isascii() and ch.isdigit():
            out.append(DIGITS[int(ch)])
        elif letters and ch.upper() in letters:
            out.append(letters[ch.upper()])
        else:
            out.append(ch)
    return "".join(out)


def number_zh(n: int) -> str:
    """A non-negative integer below 10000 read as a number (十二, 一百零五, 二千零一)."""
    if not 0 <= n < 10000:
        raise ValueError(f"window numbers are 0-9999, not {n}")
    if n == 0:
        return "零"
    if 10 <= n < 20:  # 十, 十一 ... 十九: no leading 一
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out: list[str] = []
    pending_zero = False
    for value, name in units:
        d = (n // value) % 10
        if d == 0:
            if out:
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(DIGITS[d] + name)
    return "".join(out)


def announcement(kind: str, number: str, window: int, template: str = DEFAULT_TEMPLATE,
                 recall_template: str = DEFAULT_RECALL_TEMPLATE,
                 letters: dict[str, str] | None = None) -> Announcement:
    """The text of one call. `kind` is the event's: a recall uses the recall template."""
    tpl = recall_template if kind == "recalled" else template
    text = tpl.format(number=number, window=window)
    speech = tpl.format(number=digits_zh(number, letters), window=number_zh(window))
    return Announcement(kind, number, window, text, speech)


def check_template(template: str) -> str | None:
    """Why a template cannot be used, or None. Used by the config loader.

    Formatted as `announcement` formats it: the display text with the window as an int, the
    speech with both as Chinese strings, so a format spec that fails on either is refused."""
    try:
        fields = [f for _, f, _, _ in Formatter().parse(template) if f is not None]
    except ValueError as exc:  # a lone { or }
        return f"has unbalanced braces ({exc}); write {{{{ or }}}} for a brace itself"
    for name in fields:
        if name not in ("number", "window"):
            return f"only {{number}} and {{window}} may appear in braces, not {{{name}}}"
    if "number" not in fields or "window" not in fields:
        return "must contain {number} and {window}"
    try:
        announcement("called", "A001", 12, template, template)
    except Exception as exc:  # whatever fails here would fail every call
        return f"cannot be formatted ({type(exc).__name__}: {exc})"
    return None
