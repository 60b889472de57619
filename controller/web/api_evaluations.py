"""Evaluations over HTTP, and the review-system reports that could not be delivered.

A pad token rates only its own window's last completed service; a kiosk (QR code on the
ticket, a self-service terminal) or a supervisor (entering an SMS reply) rates by ticket
or case. Clerks never rate their own service.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.clock import business_day, iso
from controller.core.engine import Outcome
from controller.core.evaluations import CHANNELS, LEVELS, rating_of
from controller.core.state import Evaluation, HallState, ReportState
from controller.store.ids import new_id
from controller.store.tokens import Role
from controller.store.writer import Reply
from controller.web.api import Route, _hall, _refused, _submit, json_response
from controller.web.auth import READ_ALL_ROLES
from controller.web.body import Field, Schema, parse, read_body
from controller.web.errors import ApiError

EVALUATE_ROLES = frozenset({Role.PAD, Role.KIOSK, Role.SUPERVISOR, Role.ADMIN})


def evaluation_view(cfg: HallConfig, e: Evaluation) -> dict[str, Any]:
    d = e.data
    return {
        "id": e.id,
        "ticket_id": e.ticket_id,
        "number": d.get("number"),
        "case_no": d.get("case_no"),
        "item_code": d.get("item_code"),
        "window": d.get("window"),
        "level": e.level,
        "level_name": LEVELS[e.level],
        "reasons": d.get("reasons", []),
        "comment": d.get("comment"),
        "anonymous": bool(d.get("anonymous")),
        "assess_number": d.get("assess_number", 1),  # 2: the case's follow-up (追评)
        "channel": e.channel,
        "at": iso(e.at, cfg.day),
        # The business day is not the date of `at`: between midnight and the numbering
        # reset (03:00 in the demo hall) it is still the day before.
        "business_day": business_day(e.at, cfg.day),
        "report": e.report.value,
        "report_status": e.report_status,
        "report_detail": e.report_detail,
    }


EVALUATE_BODY: Schema = {
    "ticket_id": Field("string", False, "the rated ticket", 64),
    "case_no": Field("string", False, "or the rated case (办件编号)", 50),
    "level": Field("integer", True, "5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"),
    "reasons": Field("array", False, "reason codes; required for 2 and 1"),
    "comment": Field("string", False, "the citizen's own words", 500, multiline=True),
    "channel": Field("string", False, "pad (default for pad tokens), keypad, kiosk, sms, qr",
                     10, CHANNELS),
    "anonymous": Field("boolean", False, "匿名评价: the review report names nobody (no ID "
                       "number, no name), whatever the ticket was taken with"),
}


async def create_evaluation(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, EVALUATE_ROLES)
    raw = await read_body(request)
    body = parse(raw, EVALUATE_BODY)
    reasons = body["reasons"] or []
    if not all(isinstance(r, str) and len(r) <= 16 for r in reasons):
        raise ApiError(400, "bad_field", "reasons is a list of reason codes")
    default_channel = "pad" if who.role is Role.PAD else "kiosk"
    if who.role in (Role.PAD, Role.KIOSK) and body["channel"] not in (None, default_channel):
        # A device rates as what it is: a pad naming itself "qr" would pass a second
        # rating of the same service as a follow-up from afar, and report a false channel.
        raise ApiError(403, "wrong_channel", f"a {who.role.value} token rates with channel "
                       f"{default_channel!r}; SMS and QR ratings are entered by staff")
    command = c.Evaluate(
        new_id(), body["level"], body["channel"] or default_channel,
        body["ticket_id"], body["case_no"], tuple(reasons), body["comment"],
        who.window if who.role is Role.PAD else None, bool(body["anonymous"]),
    )

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (
            201, evaluation_view(hall.cfg, state.evaluations[command.evaluation_id]))

    return await _submit(request, who, command, render, raw)


async def list_evaluations(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    report = request.query.get("report")
    if report is not None and report not in {r.value for r in ReportState}:
        raise ApiError(400, "bad_query", "report is pending, delivered or parked")
    found = [e for e in hall.writer.state.evaluations.values()
             if report is None or e.report.value == report]
    return json_response({"evaluations": [evaluation_view(hall.cfg, e) for e in found]})


# How long after a service a pad still offers to rate it when it (re)connects: the citizen
# may still be at the window; later, the next one is.
PENDING_S = 90.0


async def pending_rating(request: web.Request) -> web.Response:
    """For a pad that (re)connects: its window's last service, if it ended within
    PENDING_S and may still be rated there; `{"pending": null}` otherwise. The live stream
    tells a connected pad at once; a pad whose link blinked at that moment asks this."""
    hall = _hall(request)
    who = await hall.auth.require(request, frozenset({Role.PAD}))
    state = hall.writer.state
    window = who.window
    last = state.window(window).last_completed if window is not None else None
    ticket = state.tickets.get(last) if last else None
    fresh = (ticket is not None and ticket.finished_at is not None
             and hall.writer.clock() - ticket.finished_at <= PENDING_S)
    if ticket is None or not fresh or rating_of(state, ticket, "pad", at_window=True)[1] is None:
        return json_response({"pending": None})
    return json_response({"pending": {"ticket_id": ticket.id, "number": ticket.number,
                                      "completed_at": iso(ticket.finished_at, hall.cfg.day)}})


async def dead_letters(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    parked = [e for e in hall.writer.state.evaluations.values() if e.report is ReportState.PARKED]
    return json_response({"dead_letters": [evaluation_view(hall.cfg, e) for e in parked]})


async def retry_dead_letter(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, READ_ALL_ROLES)
    raw = await read_body(request)
    parse(raw, {})
    evaluation_id = request.match_info["evaluation_id"]
    command = c.RetryReport(evaluation_id)

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (
            200, evaluation_view(hall.cfg, state.evaluations[evaluation_id]))

    return await _submit(request, who, command, render, raw)


def evaluation_routes() -> list[Route]:
    return [
        Route("POST", "/api/evaluations", create_evaluation, "Rate a completed service",
              EVALUATE_ROLES, EVALUATE_BODY, status=201),
        Route("GET", "/api/evaluations", list_evaluations,
              "Evaluations, with ?report=pending|delivered|parked", READ_ALL_ROLES),
        Route("GET", "/api/evaluations/pending", pending_rating,
              "A pad's window's last service, if it may still be rated (for a pad that "
              "reconnects)", frozenset({Role.PAD})),
        Route("GET", "/api/sync/dead-letters", dead_letters,
              "Evaluation reports the review system refused (4xx)", READ_ALL_ROLES),
        Route("POST", "/api/sync/dead-letters/{evaluation_id}/retry", retry_dead_letter,
              "Send a refused evaluation report again", READ_ALL_ROLES, {}),
    ]
