"""API over real HTTP: tickets and the read endpoints.

Covers `POST /api/tickets` (the 201 answer, defaults, priority, the estimated wait, every
400 of the body and of the rules, the per-person limit and the daily quota, and that the
clear identity number is nowhere: not in any answer, not in the log, not in the SQLite
files), `GET /api/tickets/{id}`, `GET /api/queue`, `GET /api/windows`, `GET /api/events`
with its query checks, `/healthz`, and the JSON shape of aiohttp's own 404 and 405.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from controller.core.identity import keyed_hash
from controller.store.keys import load_or_create_key
from tests.conftest import Api

ID_NUMBER = "11010519491231002X"  # the GB 11643 example: a valid check digit
PHONE = "13812345678"


async def raw_call(hall: Api, method: str, path: str, token: str | None = None,
                   data: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A request whose answer is returned as text, whatever its content type."""
    h = hall.auth(token) | (headers or {})
    async with hall.session.request(method, hall.base + path, data=data, headers=h) as resp:
        return resp.status, await resp.text()


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body


def data_files_bytes(tmp_path: Path) -> bytes:
    """Every file of the daemon's data directory (the database, its WAL and SHM)."""
    data_dir = tmp_path / "data"
    files = sorted(p for p in data_dir.iterdir() if p.is_file())
    assert data_dir / "hall.sqlite3" in files
    return b"".join(p.read_bytes() for p in files)


# ---- POST /api/tickets: the answer -------------------------------------------------------

async def test_issue_answers_201_with_the_ticket(hall: Api) -> None:
    status, body = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, {"category": "A"})
    assert status == 201, body
    assert body["number"] == "A001"
    assert body["category"] == "A"
    assert body["category_name"] == "不动产登记"
    assert body["status"] == "waiting"
    assert body["channel"] == "kiosk"  # the default
    assert body["priority"] is None
    assert body["waiting_ahead"] == 0
    assert body["estimated_wait_min"] == 0
    assert body["window"] is None
    assert body["recalls"] == 0
    assert isinstance(body["id"], str) and len(body["id"]) == 36
    assert "identity" not in body and "identity_hash" not in body


async def test_issue_counts_people_ahead_and_estimates_the_wait(hall: Api) -> None:
    first = await hall.issue("A")
    second = await hall.issue("A")
    third = await hall.issue("A", channel="web")
    assert [first["number"], second["number"], third["number"]] == ["A001", "A002", "A003"]
    assert [t["waiting_ahead"] for t in (first, second, third)] == [0, 1, 2]
    # A: 12 minutes a service, 4 windows serve it (none open yet, so all 4 count)
    assert second["estimated_wait_min"] == 3
    assert third["estimated_wait_min"] == 6
    assert third["channel"] == "web"
    # numbering is per category
    assert (await hall.issue("B"))["number"] == "B001"


async def test_priority_ticket_goes_ahead_of_normal_ones(hall: Api) -> None:
    await hall.issue("A")
    await hall.issue("A")
    green = await hall.issue("A", priority="green")
    assert green["priority"] == "green"
    assert green["number"] == "A003"
    assert green["waiting_ahead"] == 0
    # The appointment group: a supervisor may give it (a kiosk may not, see below).
    status, appointment = await hall.call("POST", "/api/tickets", hall.tokens.supervisor,
                                          {"category": "A", "priority": "appointment",
                                           "channel": "appointment"})
    assert status == 201, appointment
    assert appointment["waiting_ahead"] == 0  # appointment ranks before green
    status, queue = await hall.call("GET", "/api/queue")
    assert status == 200
    a = next(c for c in queue["categories"] if c["prefix"] == "A")
    assert [t["number"] for t in a["waiting"]] == ["A004", "A003", "A001", "A002"]


@pytest.mark.parametrize("channel", ["kiosk", "idcard", "sms", "appointment", "web", "staff"])
async def test_every_channel_is_accepted(hall: Api, channel: str) -> None:
    status, ticket = await hall.call("POST", "/api/tickets", hall.tokens.supervisor,
                                     {"category": "H", "channel": channel})
    assert (status, ticket["channel"]) == (201, channel)


@pytest.mark.parametrize("body", [{"priority": "appointment"}, {"channel": "appointment"},
                                  {"priority": "appointment", "channel": "appointment"}])
async def test_the_kiosk_cannot_jump_the_queue_with_the_appointment_group(
        hall: Api, body: dict[str, str]) -> None:
    """The appointment group goes before everyone: only a booking checked in reaches it."""
    first = await hall.issue("A")
    status, answer = await hall.call("POST", "/api/tickets", hall.tokens.kiosk,
                                     {"category": "A", **body})
    assert (status, answer["error"]) == (403, "appointment_by_check_in")
    assert "check-in" in answer["detail"]
    await hall.window(1, "open")
    _, called = await hall.window(1, "call-next")
    assert called["ticket"]["id"] == first["id"]
    assert (await hall.issue("A", priority="green"))["priority"] == "green"  # others: fine


# ---- POST /api/tickets: refusals --------------------------------------------------------

@pytest.mark.parametrize(("body", "code"), [
    ({"category": "Z"}, "unknown_category"),
    ({"category": ""}, "unknown_category"),
    ({"category": "a"}, "unknown_category"),
    ({"category": "AB"}, "bad_field"),
    ({"category": 1}, "bad_field"),
    ({"category": ["A"]}, "bad_field"),
    ({}, "missing_field"),
    ({"category": None}, "missing_field"),
    ({"channel": "kiosk"}, "missing_field"),
    ({"category": "A", "channel": "fax"}, "bad_field"),
    ({"category": "A", "channel": 3}, "bad_field"),
    ({"category": "A", "priority": "vip"}, "unknown_priority"),
    ({"category": "A", "priority": True}, "bad_field"),
    ({"category": "A", "priority": "x" * 33}, "bad_field"),
    ({"category": "A", "colour": "red"}, "unknown_field"),
    ({"category": "A", "identity_hash": "00"}, "unknown_field"),
    ({"category": "A", "identity": "123"}, "bad_identity"),
    ({"category": "A", "identity": "110105194912310021"}, "bad_identity"),  # check digit
    ({"category": "A", "identity": "23812345678"}, "bad_identity"),  # not a mobile number
    ({"category": "A", "identity": "1" * 33}, "bad_field"),
    ({"category": "A", "identity": 13812345678}, "bad_field"),
])
async def test_issue_refuses_bad_bodies_with_400(hall: Api, body: dict[str, Any],
                                                 code: str) -> None:
    status, answer = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, body)
    assert_error(status, answer, 400, code)
    _, health = await hall.call("GET", "/healthz")
    assert health["last_seq"] == 0  # nothing was written


@pytest.mark.parametrize("raw", [
    b"{",
    b"not json",
    b'{"category": "A",}',
    b"\xff\xfe\x00",
    b'["A"]',
    b'"A"',
    b"42",
    b"null",
    b"true",
])
async def test_issue_refuses_bad_json_with_400(hall: Api, raw: bytes) -> None:
    status, text = await raw_call(hall, "POST", "/api/tickets", hall.tokens.kiosk, raw,
                                  {"Content-Type": "application/json"})
    assert_error(status, json.loads(text), 400, "bad_json")


async def test_empty_body_means_missing_category(hall: Api) -> None:
    status, text = await raw_call(hall, "POST", "/api/tickets", hall.tokens.kiosk, b"")
    assert_error(status, json.loads(text), 400, "missing_field")


async def test_body_over_64_kib_is_413(hall: Api) -> None:
    raw = json.dumps({"category": "A", "priority": "x" * 70_000}).encode()
    status, text = await raw_call(hall, "POST", "/api/tickets", hall.tokens.kiosk, raw)
    assert_error(status, json.loads(text), 413, "body_too_large")


async def test_per_person_daily_limit_refuses_the_third_ticket(hall: Api) -> None:
    await hall.issue("A", identity=ID_NUMBER)
    await hall.issue("A", identity=ID_NUMBER.lower())  # normalised: the same person
    status, body = await hall.call("POST", "/api/tickets", hall.tokens.kiosk,
                                   {"category": "A", "identity": f" {ID_NUMBER} "})
    assert_error(status, body, 409, "person_limit")
    # the limit is per category, and other people are not affected
    assert (await hall.issue("B", identity=ID_NUMBER))["number"] == "B001"
    assert (await hall.issue("A", identity=PHONE))["number"] == "A003"
    await hall.issue("A", identity="138 1234 5678")
    status, body = await hall.call("POST", "/api/tickets", hall.tokens.kiosk,
                                   {"category": "A", "identity": PHONE})
    assert_error(status, body, 409, "person_limit")


async def test_daily_quota_refuses_with_409_and_numbers_stay_consecutive(hall: Api) -> None:
    # F (出入境) has the smallest demo quota: 150 a day
    results = await asyncio.gather(*(hall.issue("F") for _ in range(150)))
    assert sorted(t["number"] for t in results) == [f"F{i:03d}" for i in range(1, 151)]
    assert len({t["id"] for t in results}) == 150
    status, body = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, {"category": "F"})
    assert_error(status, body, 409, "quota_reached")
    assert "150" in body["detail"]
    _, queue = await hall.call("GET", "/api/queue")
    f = next(c for c in queue["categories"] if c["prefix"] == "F")
    assert (f["issued_today"], f["daily_quota"], f["waiting_count"]) == (150, 150, 150)
    # another category is still open
    assert (await hall.issue("G"))["number"] == "G001"


# ---- personal data ---------------------------------------------------------------------

async def test_identity_is_kept_only_as_a_keyed_hash(hall: Api, tmp_path: Path) -> None:
    status, text = await raw_call(
        hall, "POST", "/api/tickets", hall.tokens.kiosk,
        json.dumps({"category": "A", "identity": ID_NUMBER}).encode(),
    )
    assert status == 201, text
    ticket = json.loads(text)
    texts = [text]
    for path, token in [(f"/api/tickets/{ticket['id']}", hall.tokens.supervisor),
                        ("/api/events?after=0&limit=1000", hall.tokens.admin),
                        ("/api/queue", None), ("/api/windows", None)]:
        status, answer = await raw_call(hall, "GET", path, token)
        assert status == 200, answer
        texts.append(answer)
    identity_hash = keyed_hash(load_or_create_key(tmp_path / "data"), ID_NUMBER)
    for answer in texts:
        assert ID_NUMBER not in answer and ID_NUMBER.lower() not in answer
        assert identity_hash not in answer
        assert "identity" not in answer

    stored = data_files_bytes(tmp_path)
    assert ticket["id"].encode() in stored  # the scan does see what the daemon wrote
    assert identity_hash.encode() in stored  # the keyed hash is what is kept
    for form in (ID_NUMBER, ID_NUMBER.lower()):
        assert form.encode("ascii") not in stored
        assert form.encode("utf-16-le") not in stored


# ---- GET /api/tickets/{id} -------------------------------------------------------------

async def test_ticket_with_its_history(hall: Api) -> None:
    ticket = await hall.issue("A")
    await hall.window(1, "open")
    await hall.window(1, "call-next")
    await hall.window(1, "recall")
    status, body = await hall.call("GET", f"/api/tickets/{ticket['id']}", hall.tokens.clerk[1])
    assert status == 200, body
    assert body["id"] == ticket["id"]
    assert body["number"] == "A001"
    assert body["status"] == "called"
    assert body["window"] == 1
    assert body["recalls"] == 1
    assert [h["event"] for h in body["history"]] == ["issued", "called", "recalled"]
    assert [h.get("window") for h in body["history"]] == [None, 1, 1]
    assert all(h["at"].endswith("+08:00") for h in body["history"])


@pytest.mark.parametrize("ticket_id", ["nope", "01a00000-0000-7000-8000-000000000000", "%20"])
async def test_unknown_ticket_is_404(hall: Api, ticket_id: str) -> None:
    status, body = await hall.call("GET", f"/api/tickets/{ticket_id}", hall.tokens.kiosk)
    assert_error(status, body, 404, "ticket_not_found")


# ---- GET /api/queue, /api/windows -------------------------------------------------------

async def test_queue_is_public_and_lists_each_category(hall: Api) -> None:
    status, body = await hall.call("GET", "/api/queue")
    assert status == 200
    assert body["business_day"] is None  # nothing issued yet
    assert [c["prefix"] for c in body["categories"]] == list("ABCDEFGHJ")
    assert all(c["waiting"] == [] and c["waiting_count"] == 0 for c in body["categories"])
    ticket = await hall.issue("C", priority="green", identity=PHONE)
    status, body = await hall.call("GET", "/api/queue")
    c = next(c for c in body["categories"] if c["prefix"] == "C")
    assert c["name"] == "公积金"
    assert c["windows"] == [4, 5, 7]
    assert (c["issued_today"], c["daily_quota"], c["waiting_count"]) == (1, 200, 1)
    assert c["waiting"] == [{"id": ticket["id"], "number": "C001", "priority": "green",
                             "issued_at": ticket["issued_at"], "directed_window": None}]
    assert body["business_day"] == ticket["business_day"]


async def test_windows_are_public_with_number_categories_state_current(hall: Api) -> None:
    status, body = await hall.call("GET", "/api/windows")
    assert status == 200
    windows = body["windows"]
    assert [w["number"] for w in windows] == list(range(1, 18))
    assert windows[0]["categories"] == ["A", "D"]
    assert windows[3]["categories"] == ["B", "C"]
    assert all(w["state"] == "closed" and w["current"] is None for w in windows)
    ticket = await hall.issue("A")
    await hall.window(1, "open")
    await hall.window(1, "call-next")
    await hall.window(2, "open")
    await hall.window(2, "pause", {"reason": "午休"})
    _, body = await hall.call("GET", "/api/windows")
    w1, w2 = body["windows"][0], body["windows"][1]
    assert w1["state"] == "open" and w1["current"]["id"] == ticket["id"]
    assert w1["current"]["status"] == "called"
    assert w2["state"] == "paused" and w2["pause_reason"] == "午休" and w2["current"] is None


# ---- GET /api/events, /healthz ---------------------------------------------------------

async def test_events_page_through_the_log(hall: Api) -> None:
    issued = [await hall.issue(c) for c in "ABC"]
    await hall.window(4, "open")
    status, body = await hall.call("GET", "/api/events", hall.tokens.supervisor)
    assert status == 200, body
    assert body["last_seq"] == 4
    events = body["events"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["type"] for e in events] == ["ticket.issued"] * 3 + ["window.opened"]
    assert [e["data"]["ticket_id"] for e in events[:3]] == [t["id"] for t in issued]
    assert events[3]["data"] == {"window": 4}
    assert len({e["id"] for e in events}) == 4
    assert all(set(e) == {"seq", "id", "ts", "type", "data"} for e in events)
    status, body = await hall.call("GET", "/api/events?after=1&limit=2", hall.tokens.admin)
    assert status == 200
    assert [e["seq"] for e in body["events"]] == [2, 3]
    status, body = await hall.call("GET", "/api/events?after=4", hall.tokens.admin)
    assert (status, body["events"], body["last_seq"]) == (200, [], 4)
    status, body = await hall.call("GET", "/api/events?after=0&limit=1000", hall.tokens.admin)
    assert status == 200 and len(body["events"]) == 4


@pytest.mark.parametrize("query", [
    "after=abc", "limit=x", "after=-1", "limit=0", "limit=1001", "limit=-5", "after=1.5",
    "after=", "limit=",
])
async def test_events_bad_query_is_400(hall: Api, query: str) -> None:
    status, body = await hall.call("GET", f"/api/events?{query}", hall.tokens.supervisor)
    assert_error(status, body, 400, "bad_query")


async def test_events_after_beyond_sqlite_integer_is_400(hall: Api) -> None:
    status, text = await raw_call(hall, "GET", "/api/events?after=99999999999999999999",
                                  hall.tokens.supervisor)
    assert status == 400, text
    assert json.loads(text)["error"] == "bad_query"


async def test_healthz(hall: Api) -> None:
    status, body = await hall.call("GET", "/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["hall_id"] == "demo-330100"
    assert body["last_seq"] == 0
    assert body["queued_commands"] == 0
    assert isinstance(body["uptime_s"], float | int) and body["uptime_s"] >= 0
    await hall.issue("A")
    _, body = await hall.call("GET", "/healthz")
    assert body["last_seq"] == 1


# ---- routing errors are JSON too -------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/api/nope", 404, "not_found"),
    ("POST", "/api/queue", 405, "method_not_allowed"),
    ("GET", "/api/tickets", 405, "method_not_allowed"),
    ("DELETE", "/api/tickets/x", 405, "method_not_allowed"),
    ("GET", "/api/windows/1/open", 405, "method_not_allowed"),
    ("POST", "/api/windows/1/dance", 404, "not_found"),
])
async def test_routing_errors_are_json(hall: Api, method: str, path: str, status: int,
                                       code: str) -> None:
    got, body = await hall.call(method, path, hall.tokens.admin)
    assert_error(got, body, status, code)
