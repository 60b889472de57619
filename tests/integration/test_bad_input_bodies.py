"""Bad input in JSON bodies, over real HTTP: a JSON 400 naming what is wrong, nothing stored.

Integers of 4300 digits or more (Python refuses to read them) and integers no client can
mean; control characters in free text (a pause reason goes to the window's LED screen,
a notice to the hall wall), where multi-line text keeps only its line breaks and tabs;
lone surrogates, as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

HUGE = b"9" * 5000

POSTS = [  # (path, token attribute, a body with one field to spoil)
    ("/api/tickets", "kiosk", b'{"category": "A", "priority": %s}'),
    ("/api/windows/1/open", "supervisor", b'{"x": %s}'),
    ("/api/notices", "supervisor", b'{"text": %s}'),
    ("/api/counter-readings", "admin", b'{"counter": "door-1", "in": %s}'),
    ("/api/evaluations", "admin", b'{"level": %s}'),
    ("/api/complaints", "admin", b'{"channel": "phone", "summary": "x", "window": %s}'),
]


async def last_seq(hall: Api) -> int:
    _, body = await hall.call("GET", "/healthz")
    return int(body["last_seq"])


@pytest.mark.parametrize(("path", "who", "template"), POSTS)
async def test_integer_of_5000_digits_is_400(hall: Api, path: str, who: str,
                                             template: bytes) -> None:
    for number in (HUGE, b"-" + HUGE, b"[" + HUGE + b"]"):
        status, body = await hall.call("POST", path, getattr(hall.tokens, who),
                                       data=template % number,
                                       headers={"Content-Type": "application/json"})
        assert (status, body["error"]) == (400, "bad_json"), body
        assert body["detail"] == "the body holds a number with too many digits"
    assert await last_seq(hall) == 0


@pytest.mark.parametrize("number", [2**53, -(2**53), 10**4000],
                         ids=["2^53", "-2^53", "10^4000"])
async def test_integer_no_client_can_mean_is_400(hall: Api, number: int) -> None:
    status, body = await hall.call("POST", "/api/complaints", hall.tokens.admin,
                                   {"channel": "phone", "summary": "x", "window": number})
    assert (status, body) == (400, {"error": "bad_field",
                                    "detail": "field 'window' is too large a number"})
    assert await last_seq(hall) == 0


async def test_nan_and_infinity_stay_refused(hall: Api) -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        status, body = await hall.call("POST", "/api/counter-readings", hall.tokens.admin,
                                       data=b'{"counter": "door-1", "in": %s}' % literal)
        assert (status, body["error"]) == (400, "bad_field"), body
    assert await last_seq(hall) == 0


CONTROL = ["\x00", "\x07", "\x1b[2J", "\x7f", "\x9b", "\x0b", "\x0c"]


@pytest.mark.parametrize("char", CONTROL)
async def test_control_characters_in_free_text_are_400(hall: Api, char: str) -> None:
    t = hall.tokens
    await hall.window(1, "open")
    spoilt = f"lunch{char}break"
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("/api/windows/1/pause", t.supervisor, {"reason": spoilt}, "reason"),
        ("/api/notices", t.supervisor, {"text": spoilt}, "text"),
        ("/api/evaluations", t.pad[1], {"level": 3, "comment": spoilt}, "comment"),
        ("/api/complaints", t.admin, {"channel": "phone", "summary": spoilt}, "summary"),
        ("/api/counter-readings", t.admin, {"counter": spoilt, "in": 1}, "counter"),
        ("/api/cases", t.admin, {"case_no": "C-1", "missing": ["id card", spoilt]},
         "missing"),
    ]
    seq = await last_seq(hall)
    for path, token, body, field in cases:
        status, answer = await hall.call("POST", path, token, body)
        assert (status, answer["error"]) == (400, "bad_field"), (path, answer)
        assert f"'{field}'" in answer["detail"] and "control character" in answer["detail"]
    assert await last_seq(hall) == seq  # nothing stored
    _, windows = await hall.call("GET", "/api/windows")
    assert windows["windows"][0]["state"] == "open"


async def test_line_breaks_and_tabs_only_where_text_has_lines(hall: Api) -> None:
    t = hall.tokens
    status, notice = await hall.call("POST", "/api/notices", t.supervisor,
                                     {"text": "今日停电\n\t下午两点恢复"})
    assert status == 201, notice
    assert notice["text"] == "今日停电\n\t下午两点恢复"
    status, body = await hall.call("POST", "/api/complaints", t.admin,
                                   {"channel": "phone", "summary": "waited\nan hour"})
    assert status == 201, body
    status, body = await hall.call("POST", "/api/complaints", t.admin,  # from a Windows PC
                                   {"channel": "phone", "summary": "waited\r\nan hour"})
    assert status == 201, body
    await hall.window(1, "open")
    for reason in ("lunch\nbreak", "lunch\r\nbreak", "lunch\rbreak"):
        status, body = await hall.window(1, "pause", {"reason": reason})
        assert (status, body["error"]) == (400, "bad_field")  # one line on the LED screen


async def test_lone_surrogates_stay_refused(hall: Api) -> None:
    await hall.window(1, "open")
    for raw in (b'{"reason": "a\\ud800b"}', b'{"reason": "\\udce9"}'):
        status, body = await hall.call("POST", "/api/windows/1/pause", hall.tokens.supervisor,
                                       data=raw)
        assert (status, body) == (400, {"error": "bad_field",
                                        "detail": "field 'reason' is not valid text"})
    status, body = await hall.call("POST", "/api/cases", hall.tokens.admin,
                                   data=b'{"case_no": "C-1", "missing": ["\\udce9"]}')
    assert (status, body["error"]) == (400, "bad_field"), body
