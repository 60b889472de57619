"""Appointments (预约, 签到) and notices over HTTP, for halls without a cloud and for the kiosk.

The same commands arrive from the cloud over MQTT (controller/sync/downlink.py); both go
through the single writer, so the rules are the same whatever the source.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.appointments import window_of
from controller.core.clock import business_day, iso, parse_instant
from controller.core.engine import Outcome
from controller.core.identity import IdentityError, keyed_hash
from controller.core.notices import active
from controller.core.state import Appointment, HallState
from controller.core.views import ticket_view
from controller.store.ids import new_id
from controller.store.writer import Reply
from controller.web.api import (
    Route,
    _decided,
    _hall,
    _refused,
    _submit,
    json_response,
    query_date,
    seal_identity,
)
from controller.web.auth import ISSUE_ROLES, READ_ALL_ROLES
from controller.web.body import Field, Schema, parse, read_body
from controller.web.errors import ApiError

_ID = re.compile(r"[0-9A-Za-z_.:-]{1,64}")
MAX_OFFSET = timedelta(hours=14)


def appointment_view(cfg: HallConfig, a: Appointment) -> dict[str, Any]:
    opens, closes = window_of(cfg, a)
    return {
        "id": a.id,
        "category": a.category,
        "category_name": cfg.categories[a.category].name,
        "slot_start": iso(a.slot_start, cfg.day),
        "slot_end": iso(a.slot_end, cfg.day),
        "check_in_from": iso(opens, cfg.day),
        "check_in_until": iso(closes, cfg.day),
        "status": a.status.value,
        "source": a.source,
        "ticket_id": a.ticket_id,
        "late": a.late,
    }


def _instant(body: dict[str, Any], key: str) -> float:
    try:
        at = parse_instant(body[key])
        offset = datetime.fromisoformat(body[key]).utcoffset()
    except ValueError as exc:
        raise ApiError(400, "bad_field", f"field {key!r}: {exc}") from None
    # Python takes any offset up to ±23:59; no zone is beyond ±14:00, so a larger one is a
    # typo that would put the slot on another day than the one meant.
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ApiError(400, "bad_field",
                       f"field {key!r}: the UTC offset of {body[key][:40]!r} is no real "
                       "zone's: offsets run from -14:00 to +14:00")
    return at


def _identity(key: bytes, raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return keyed_hash(key, raw)
    except IdentityError as exc:
        raise ApiError(400, "bad_identity", str(exc)) from None


def _new_id(given: str | None) -> str:
    if given is None:
        return new_id()
    if not _ID.fullmatch(given):
        raise ApiError(400, "bad_field", "ids are 1-64 letters, digits or _.:-")
    return given


CREATE_BODY: Schema = {
    "category": Field("string", True, "business category prefix", 1),
    "slot_start": Field("string", True, "ISO 8601 with offset", 40),
    "slot_end": Field("string", True, "ISO 8601 with offset", 40),
    "identity": Field("string", True, "ID or mobile number; only a keyed hash is kept", 32),
    "appointment_id": Field("string", False, "the booking's own id, if it has one", 64),
}


async def create_appointment(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, READ_ALL_ROLES)
    raw = await read_body(request)
    body = parse(raw, CREATE_BODY)
    command = c.CreateAppointment(
        _new_id(body["appointment_id"]), body["category"], _instant(body, "slot_start"),
        _instant(body, "slot_end"), _identity(hall.identity_key, body["identity"]) or "", "api")

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (
            201, appointment_view(hall.cfg, state.appointments[command.appointment_id]))

    return await _submit(request, who, command, render, raw)


async def list_appointments(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    day = query_date(request)
    found = [a for a in hall.writer.state.appointments.values()
             if day is None or business_day(a.slot_start, hall.cfg.day) == day]
    found.sort(key=lambda a: a.slot_start)
    return json_response({"appointments": [appointment_view(hall.cfg, a) for a in found]})


async def cancel_appointment(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, READ_ALL_ROLES)
    raw = await read_body(request)
    body = parse(raw, {"reason": Field("string", False, "why", 200)})
    appointment_id = request.match_info["appointment_id"]
    command = c.CancelAppointment(appointment_id, body["reason"] or "")

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (
            200, appointment_view(hall.cfg, state.appointments[appointment_id]))

    return await _submit(request, who, command, render, raw)


CHECK_IN_BODY: Schema = {
    "identity": Field("string", False, "ID number (card swipe or typed); hashed at once", 32),
    "appointment_id": Field("string", False, "the booking id (e.g. from its QR code)", 64),
}


async def check_in(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, ISSUE_ROLES)
    raw = await read_body(request)
    body = parse(raw, CHECK_IN_BODY)
    if body["identity"] is None and body["appointment_id"] is None:
        raise ApiError(400, "missing_field", "give identity or appointment_id")
    ticket_id = new_id()
    command = c.CheckIn(ticket_id, _identity(hall.identity_key, body["identity"]),
                        body["appointment_id"])

    def render(state: HallState, outcome: Outcome) -> Reply:
        refused = _refused(outcome)
        if refused:
            return refused
        appointment = next(a for a in state.appointments.values() if a.ticket_id == ticket_id)
        return 201, {"ticket": ticket_view(state, hall.cfg, state.tickets[ticket_id]),
                     "appointment": appointment_view(hall.cfg, appointment)}

    status, answer = await _decided(request, who, command, render, raw)
    if status == 201 and answer["ticket"]["id"] == ticket_id:  # not a replayed answer
        await seal_identity(hall, ticket_id, body["identity"])
    return json_response(answer, status=status)


async def list_notices(request: web.Request) -> web.Response:
    hall = _hall(request)
    now = hall.writer.clock()
    return json_response({"notices": [
        {**n, "until": iso(n["until"], hall.cfg.day) if n["until"] else None}  # type: ignore[arg-type]
        for n in active(hall.writer.state, now)
    ]})


NOTICE_BODY: Schema = {
    "text": Field("string", True, "what the hall wall shows", 500, multiline=True),
    "until": Field("string", False, "ISO 8601 with offset; shown until then", 40),
    "notice_id": Field("string", False, "an id of your own, to replace or withdraw it", 64),
}


async def publish_notice(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, READ_ALL_ROLES)
    raw = await read_body(request)
    body = parse(raw, NOTICE_BODY)
    until = _instant(body, "until") if body["until"] else None
    command = c.PublishNotice(_new_id(body["notice_id"]), body["text"], until)

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (201, {"id": command.notice_id,
                                           "text": state.notices[command.notice_id].text,
                                           "until": iso(until, hall.cfg.day)})

    return await _submit(request, who, command, render, raw)


async def withdraw_notice(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, READ_ALL_ROLES)
    raw = await read_body(request)
    parse(raw, {})
    notice_id = request.match_info["notice_id"]
    command = c.WithdrawNotice(notice_id)

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (200, {"id": notice_id, "withdrawn": True})

    return await _submit(request, who, command, render, raw)


def appointment_routes() -> list[Route]:
    return [
        Route("POST", "/api/appointments", create_appointment,
              "Book an appointment (halls without a cloud)", READ_ALL_ROLES, CREATE_BODY,
              status=201),
        Route("GET", "/api/appointments", list_appointments,
              "Appointments, of one business day with ?date=", READ_ALL_ROLES),
        Route("POST", "/api/appointments/check-in", check_in,
              "Check in an appointment: a ticket in the appointment priority group",
              ISSUE_ROLES, CHECK_IN_BODY, status=201),
        Route("POST", "/api/appointments/{appointment_id}/cancel", cancel_appointment,
              "Cancel a booked appointment", READ_ALL_ROLES,
              {"reason": Field("string", False, "why", 200)}),
        Route("GET", "/api/notices", list_notices, "Notices now shown on the hall wall", None),
        Route("POST", "/api/notices", publish_notice, "Publish a notice", READ_ALL_ROLES,
              NOTICE_BODY, status=201),
        Route("POST", "/api/notices/{notice_id}/withdraw", withdraw_notice,
              "Withdraw a notice", READ_ALL_ROLES, {}),
    ]
