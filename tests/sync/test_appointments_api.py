"""Appointments through the hall's own API (halls without a cloud) and check-in at the kiosk.

Over real HTTP against the demo hall (no broker): booking with `POST /api/appointments`,
listing by business day, check-in with the ID number inside [slot start - 30 min, slot end +
15 min] giving an `appointment` priority ticket that is called before earlier walk-ins, a
refusal outside that window (the demo hall's `outside_slot = "refuse"`), single use,
cancellation, input errors and roles. The daemon runs on the real clock, so the window's
exact edges, the walk-in variant and the no-show sweep (a Tick after the window closed) are
checked in the pure engine with a chosen `now`.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.config import HallConfig
from controller.config.model import OutsideSlot
from controller.core import commands as c
from controller.core import events as ev
from controller.core.clock import business_day
from controller.core.engine import Outcome, execute
from controller.core.identity import check_digit, id_checksum_ok, keyed_hash
from controller.core.state import AppointmentStatus, HallState, TicketStatus
from tests.conftest import Api, slot_holding_now

CST = ZoneInfo("Asia/Shanghai")
MIN = 60.0


def id_number(first17: str) -> str:
    """An ID number with its GB 11643 check digit."""
    number = first17 + check_digit(first17)
    assert id_checksum_ok(number)
    return number


ID_A = "11010519491231002X"
ID_B = id_number("33010219800101123")
ID_C = id_number("44030119900307456")
BAD_ID = ID_A[:-1] + "1"


def at(ts: float) -> str:
    """ISO 8601 in the hall's zone, with its offset."""
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


def today(cfg: HallConfig, now: float | None = None) -> str:
    return business_day(time.time() if now is None else now, cfg.day)


async def book(api: Api, identity: str, start: float, minutes: float = 30.0,
               category: str = "A", appointment_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"category": category, "identity": identity,
                            "slot_start": at(start), "slot_end": at(start + minutes * MIN)}
    if appointment_id is not None:
        body["appointment_id"] = appointment_id
    status, answer = await api.call("POST", "/api/appointments", api.tokens.supervisor, body)
    assert status == 201, answer
    return answer  # type: ignore[no-any-return]


async def check_in(api: Api, token: str | None = None, **body: Any) -> tuple[int, Any]:
    return await api.call("POST", "/api/appointments/check-in", token or api.tokens.kiosk, body)


async def listed(api: Api, date: str | None = None) -> list[dict[str, Any]]:
    path = "/api/appointments" + (f"?date={date}" if date else "")
    status, body = await api.call("GET", path, api.tokens.supervisor)
    assert status == 200, body
    return body["appointments"]  # type: ignore[no-any-return]


# ---- over HTTP ---------------------------------------------------------------------------

async def test_book_list_and_check_in_ahead_of_walk_ins(hall: Api, demo_cfg: HallConfig) -> None:
    start = slot_holding_now(demo_cfg)
    booked = await book(hall, ID_A, start, appointment_id="apt-a")
    assert booked["id"] == "apt-a" and booked["status"] == "booked"
    assert booked["source"] == "api" and booked["category"] == "A"
    assert booked["slot_start"] == at(start) and booked["check_in_from"] == at(start - 30 * MIN)
    assert booked["check_in_until"] == at(start + 45 * MIN)
    assert "identity" not in booked and "identity_hash" not in booked

    day = today(demo_cfg, start)
    assert [a["id"] for a in await listed(hall, day)] == ["apt-a"]
    assert [a["id"] for a in await listed(hall)] == ["apt-a"]
    assert await listed(hall, "1999-01-01") == []
    status, body = await hall.call("GET", "/api/appointments?date=today", hall.tokens.supervisor)
    assert status == 400 and body["error"] == "bad_query", body

    walk_ins = [await hall.issue("A") for _ in range(2)]
    # Typed at the kiosk, lower-case x and all: the same person.
    status, answer = await check_in(hall, identity=ID_A.lower())
    assert status == 201, answer
    ticket = answer["ticket"]
    assert ticket["priority"] == "appointment" and ticket["channel"] == "appointment"
    assert ticket["number"] == "A003" and ticket["waiting_ahead"] == 0, ticket
    assert answer["appointment"]["status"] == "checked_in"
    assert answer["appointment"]["ticket_id"] == ticket["id"]
    assert answer["appointment"]["late"] is False

    status, _ = await hall.window(1, "open")
    assert status == 200
    called = []
    for _ in range(3):
        status, body = await hall.window(1, "call-next", token=hall.tokens.clerk[1])
        assert status == 200, body
        called.append(body["ticket"]["number"])
    assert called == ["A003", walk_ins[0]["number"], walk_ins[1]["number"]]

    # Used once: by identity there is nothing booked today any more; by id it is not booked.
    status, body = await check_in(hall, identity=ID_A)
    assert status == 404 and body["error"] == "appointment_not_found", body
    status, body = await check_in(hall, appointment_id="apt-a")
    assert status == 409 and body["error"] == "appointment_not_booked", body
    assert (await listed(hall, day))[0]["status"] == "checked_in"


async def test_check_in_outside_the_slot_is_refused(hall: Api, demo_cfg: HallConfig) -> None:
    now = time.time()
    start = now + 2 * 3600  # check-in opens 90 minutes from now
    await book(hall, ID_B, start, appointment_id="apt-later")
    same_day = today(demo_cfg, start) == today(demo_cfg, now)
    # By identity when the slot is today; by its id otherwise (nothing is booked "today").
    ask = {"identity": ID_B} if same_day else {"identity": ID_B, "appointment_id": "apt-later"}
    status, body = await check_in(hall, **ask)
    assert status == 409 and body["error"] == "outside_slot", body
    assert f"{datetime.fromtimestamp(start - 30 * MIN, CST):%H:%M}" in body["detail"], body
    status, queue = await hall.call("GET", "/api/queue")
    assert status == 200 and all(cat["issued_today"] == 0 for cat in queue["categories"])
    assert (await listed(hall))[0]["status"] == "booked"

    # Someone else's ID number with this booking's id: not theirs.
    status, body = await check_in(hall, identity=ID_C, appointment_id="apt-later")
    assert status == 404 and body["error"] == "appointment_not_found", body
    status, body = await check_in(hall, identity=ID_C)
    assert status == 404 and body["error"] == "appointment_not_found", body


async def test_cancel(hall: Api, demo_cfg: HallConfig) -> None:
    start = slot_holding_now(demo_cfg)
    await book(hall, ID_C, start, appointment_id="apt-c")
    status, body = await hall.call("POST", "/api/appointments/apt-c/cancel",
                                   hall.tokens.supervisor, {"reason": "市民电话改期"})
    assert status == 200 and body["status"] == "cancelled", body
    status, body = await check_in(hall, identity=ID_C)
    assert status == 404 and body["error"] == "appointment_not_found", body
    status, body = await check_in(hall, appointment_id="apt-c")
    assert status == 409 and body["error"] == "appointment_not_booked", body
    status, body = await hall.call("POST", "/api/appointments/apt-c/cancel",
                                   hall.tokens.supervisor, {})
    assert status == 409 and body["error"] == "appointment_not_booked", body
    status, body = await hall.call("POST", "/api/appointments/apt-none/cancel",
                                   hall.tokens.supervisor, {})
    assert status == 404 and body["error"] == "appointment_not_found", body
    assert [(a["id"], a["status"]) for a in await listed(hall)] == [("apt-c", "cancelled")]


async def test_bad_requests(hall: Api, demo_cfg: HallConfig) -> None:
    start = time.time() + 3600
    good = {"category": "A", "identity": ID_A, "slot_start": at(start),
            "slot_end": at(start + 30 * MIN)}

    async def create(**change: Any) -> tuple[int, Any]:
        body = {k: v for k, v in {**good, **change}.items() if v is not None}
        return await hall.call("POST", "/api/appointments", hall.tokens.supervisor, body)

    zoneless = datetime.fromtimestamp(start, CST).replace(tzinfo=None).isoformat()
    for change, status_, code in [
        ({"slot_start": zoneless}, 400, "bad_field"),
        ({"slot_end": "tomorrow at nine"}, 400, "bad_field"),
        ({"identity": BAD_ID}, 400, "bad_identity"),
        ({"identity": "12345"}, 400, "bad_identity"),
        ({"identity": None}, 400, None),
        ({"category": "Z"}, 400, "unknown_category"),
        ({"slot_end": at(start - 60)}, 400, "bad_slot"),
        ({"slot_end": at(start + 25 * 3600)}, 400, "bad_slot"),
        ({"slot_start": at(start - 5 * 3600), "slot_end": at(start - 4 * 3600)}, 409,
         "slot_past"),
        ({"slot_start": at(start + 9 * 86400), "slot_end": at(start + 9 * 86400 + 1800)},
         409, "slot_too_far"),
        ({"appointment_id": "has spaces"}, 400, "bad_field"),
    ]:
        status, body = await create(**change)
        assert status == status_, (change, body)
        if code is not None:
            assert body["error"] == code, (change, body)
    assert await listed(hall) == []

    status, body = await create(appointment_id="apt-dup")
    assert status == 201, body
    status, body = await create(appointment_id="apt-dup", identity=ID_B)
    assert status == 409 and body["error"] == "duplicate_appointment", body

    status, body = await check_in(hall)
    assert status == 400 and body["error"] == "missing_field", body
    status, body = await check_in(hall, identity=BAD_ID)
    assert status == 400 and body["error"] == "bad_identity", body
    status, body = await check_in(hall, identity="13800000000")
    assert status == 404 and body["error"] == "appointment_not_found", body


async def test_roles(hall: Api, demo_cfg: HallConfig) -> None:
    start = slot_holding_now(demo_cfg)
    body = {"category": "B", "identity": ID_B, "slot_start": at(start),
            "slot_end": at(start + 30 * MIN)}
    for token in (hall.tokens.kiosk, hall.tokens.clerk[1], hall.tokens.pad[1]):
        status, answer = await hall.call("POST", "/api/appointments", token, body)
        assert status == 403 and answer["error"] == "forbidden", answer
        status, answer = await hall.call("GET", "/api/appointments", token)
        assert status == 403, answer
    status, answer = await hall.call("POST", "/api/appointments", None, body)
    assert status == 401, answer
    status, answer = await hall.call("POST", "/api/appointments", hall.tokens.admin, body)
    assert status == 201, answer
    cancel = f"/api/appointments/{answer['id']}/cancel"

    for token in (hall.tokens.clerk[1], hall.tokens.pad[1]):
        status, answer = await check_in(hall, token, identity=ID_B)
        assert status == 403 and answer["error"] == "forbidden", answer
        status, answer = await hall.call("POST", cancel, token, {})
        assert status == 403, answer
    status, answer = await check_in(hall, hall.tokens.supervisor, identity=ID_B)
    assert status == 201 and answer["ticket"]["priority"] == "appointment", answer


# ---- the pure engine, on a chosen clock ----------------------------------------------------

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=CST).timestamp()  # a Monday
KEY = b"k" * 32


def run(state: HallState, cfg: HallConfig, cmd: c.Command, now: float) -> Outcome:
    return execute(state, cfg, cmd, now)


def booked_state(cfg: HallConfig, *ids: str) -> HallState:
    """Appointments 10:00-10:30, booked at 09:00, one per id, for ID_A."""
    state = HallState()
    for appointment_id in ids:
        outcome = run(state, cfg, c.CreateAppointment(
            appointment_id, "A", NINE + 3600, NINE + 5400, keyed_hash(KEY, ID_A)), NINE)
        assert outcome.refusal is None, outcome.refusal
    return state


@pytest.mark.parametrize(("offset_min", "inside"), [
    (-30 - 1 / 60, False), (-30, True), (0, True), (30, True), (45, True), (45 + 1 / 60, False),
])
def test_check_in_window_edges(demo_cfg: HallConfig, offset_min: float, inside: bool) -> None:
    state = booked_state(demo_cfg, "apt")
    now = NINE + 3600 + offset_min * MIN  # relative to the 10:00 start; the slot ends 10:30
    outcome = run(state, demo_cfg, c.CheckIn("t-1", keyed_hash(KEY, ID_A)), now)
    if inside:
        assert outcome.refusal is None, outcome.refusal
        assert state.tickets["t-1"].priority == "appointment"
        assert state.appointments["apt"].status is AppointmentStatus.CHECKED_IN
    else:
        assert outcome.refusal is not None and outcome.refusal.code == "outside_slot"
        assert "09:30" in outcome.refusal.detail and "10:45" in outcome.refusal.detail
        assert state.appointments["apt"].status is AppointmentStatus.BOOKED
        assert not state.tickets


def test_outside_slot_walk_in_variant(demo_cfg: HallConfig) -> None:
    cfg = dataclasses.replace(demo_cfg, appointments=dataclasses.replace(
        demo_cfg.appointments, outside_slot=OutsideSlot.WALK_IN))
    state = booked_state(cfg, "apt")
    outcome = run(state, cfg, c.CheckIn("t-late", keyed_hash(KEY, ID_A)), NINE + 3 * 3600)
    assert outcome.refusal is None, outcome.refusal
    ticket = state.tickets["t-late"]
    assert ticket.priority is None and ticket.channel == "kiosk"
    appointment = state.appointments["apt"]
    assert appointment.status is AppointmentStatus.CHECKED_IN and appointment.late is True


def test_another_days_booking_is_not_used_up_by_an_early_check_in(
        demo_cfg: HallConfig) -> None:
    """Where early and late arrivals get a walk-in ticket, a booking of another day checked
    in by its id is refused with its date and stays booked (by identity, only today's
    bookings are looked at, so the two ways agree)."""
    cfg = dataclasses.replace(demo_cfg, appointments=dataclasses.replace(
        demo_cfg.appointments, outside_slot=OutsideSlot.WALK_IN))
    state = booked_state(cfg, "apt")
    day_before = NINE - 86400
    outcome = run(state, cfg, c.CheckIn("t-early", None, "apt"), day_before)
    assert outcome.refusal is not None and outcome.refusal.code == "not_today"
    assert business_day(NINE, cfg.day) in outcome.refusal.detail
    assert "10:00-10:30" in outcome.refusal.detail
    assert state.appointments["apt"].status is AppointmentStatus.BOOKED
    assert not state.tickets
    by_identity = run(state, cfg, c.CheckIn("t-early", keyed_hash(KEY, ID_A)), day_before)
    assert by_identity.refusal is not None and by_identity.refusal.code == "appointment_not_found"
    on_the_day = run(state, cfg, c.CheckIn("t-1", None, "apt"), NINE + 3600)
    assert on_the_day.refusal is None and state.tickets["t-1"].priority == "appointment"


def test_no_show_after_the_window(demo_cfg: HallConfig) -> None:
    state = booked_state(demo_cfg, "apt-missed", "apt-kept", "apt-cancelled")
    assert run(state, demo_cfg, c.CancelAppointment("apt-cancelled"), NINE).refusal is None
    kept = run(state, demo_cfg, c.CheckIn("t-kept", None, "apt-kept"), NINE + 3600)
    assert kept.refusal is None, kept.refusal

    window_closes = NINE + 5400 + 15 * MIN  # 10:45

    def appointment_events(outcome: Outcome) -> list[str]:
        """(The ticket checked in at 10:00 still waits: the demo's service-level alert is
        raised on the way, which is not what this test is about.)"""
        return [e.type for e in outcome.events if e.type.startswith("appointment.")]

    assert appointment_events(run(state, demo_cfg, c.Tick(), window_closes)) == []
    # Only the sweep of a Tick records no-shows, not any other command.
    other = run(state, demo_cfg, c.IssueTicket("t-walk", "B", "kiosk"), window_closes + 60)
    assert [e.type for e in other.events] == [ev.TICKET_ISSUED]
    swept = run(state, demo_cfg, c.Tick(), window_closes + 61)
    assert [(e.type, e.data) for e in swept.events] == [
        (ev.APPOINTMENT_NO_SHOW, {"appointment_id": "apt-missed", "category": "A"})]
    assert state.appointments["apt-missed"].status is AppointmentStatus.NO_SHOW
    assert state.appointments["apt-kept"].status is AppointmentStatus.CHECKED_IN
    assert state.appointments["apt-cancelled"].status is AppointmentStatus.CANCELLED
    assert state.tickets["t-kept"].status is TicketStatus.WAITING
    # recorded once
    assert appointment_events(run(state, demo_cfg, c.Tick(), window_closes + 3600)) == []

    late = run(state, demo_cfg, c.CheckIn("t-x", None, "apt-missed"), window_closes + 120)
    assert late.refusal is not None and late.refusal.code == "appointment_not_booked"
