"""Bad input in paths and query strings, over real HTTP: a JSON 4xx, never a 500.

Window numbers too long to be one (Python refuses to convert 4300 digits); dates that are
not a real YYYY-MM-DD date (a week date, a basic-format date with junk after it, other
scripts' digits); appointment times with a UTC offset no zone has; a plain GET of the
WebSocket stream.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Api

ID_NUMBER = "11010519491231002X"
DIGITS = "9" * 5000


async def test_window_number_of_5000_digits_is_404(hall: Api) -> None:
    status, body = await hall.call("GET", f"/api/display/windows/{DIGITS}")  # no token
    assert (status, body["error"]) == (404, "window_not_found"), body
    assert len(body["detail"]) < 100
    for number in (DIGITS, "0" * 5000 + "1"):
        status, body = await hall.call("POST", f"/api/windows/{number}/open",
                                       hall.tokens.supervisor)
        assert (status, body["error"]) == (404, "window_not_found"), body
    status, _ = await hall.call("GET", "/api/display/windows/1")
    assert status == 200


BAD_DATES = ["2026-13-45", "0000-00-00", "2026-02-30", "٢٠٢٦-١١-٢٨", "２０２６-１１-２８",
             "20261128xx", "2026-W48-6", "20261128", "2026-11-28T00", "2026-11-28 ", ""]
DATED = ["/api/appointments", "/api/flow", "/api/staffing", "/api/flags"]


@pytest.mark.parametrize("path", DATED)
async def test_dates_are_strict_yyyy_mm_dd(hall: Api, path: str) -> None:
    for raw in BAD_DATES:
        async with hall.session.get(hall.base + path, params={"date": raw},
                                    headers=hall.auth(hall.tokens.supervisor)) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]) == (400, "bad_query"), (raw, body)
            assert "YYYY-MM-DD" in body["detail"]
    status, body = await hall.call("GET", f"{path}?date=2026-11-28", hall.tokens.supervisor)
    assert status == 200, body


def day_after_tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).date().isoformat()


@pytest.mark.parametrize("offset", ["+23:59", "-23:00", "+14:01", "-14:30"])
async def test_slot_with_an_offset_no_zone_has_is_400(hall: Api, offset: str) -> None:
    day = day_after_tomorrow()
    status, body = await hall.call("POST", "/api/appointments", hall.tokens.supervisor, {
        "category": "A", "slot_start": f"{day}T09:00{offset}",
        "slot_end": f"{day}T09:30{offset}", "identity": ID_NUMBER})
    assert (status, body["error"]) == (400, "bad_field"), body
    assert "'slot_start'" in body["detail"] and "-14:00 to +14:00" in body["detail"]
    _, listed = await hall.call("GET", "/api/appointments", hall.tokens.supervisor)
    assert listed == {"appointments": []}


async def test_slot_with_a_real_offset_is_booked(hall: Api) -> None:
    day = day_after_tomorrow()
    for n, offset in enumerate(["+08:00", "+14:00", "Z"]):
        status, body = await hall.call("POST", "/api/appointments", hall.tokens.supervisor, {
            "category": "A", "slot_start": f"{day}T09:00{offset}",
            "slot_end": f"{day}T09:30{offset}", "identity": ID_NUMBER,
            "appointment_id": f"booking-{n}"})
        assert status == 201, body


async def test_plain_get_of_the_stream_says_a_websocket_is_needed(hall: Api) -> None:
    status, body = await hall.call("GET", "/api/stream")
    assert (status, body["error"]) == (400, "websocket_required"), body
    assert "WebSocket" in body["detail"]
