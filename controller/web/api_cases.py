"""The item catalog, cases, follow-ups of bad ratings and complaints over HTTP.

What the pages need (docs/cases.md): the kiosk searches items (`GET /api/items?q=`) and
takes a ticket by item (`POST /api/tickets` with `item_code`) or a pickup ticket with a case
number; the console accepts cases and moves them on; the dashboard lists ready, circulating
and overdue cases, open follow-ups and complaints (`GET /api/supervision`).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from controller.catalog.model import CASE_TYPE_NAMES, FOLLOW_UP_STEPS, Item
from controller.config.model import HallConfig
from controller.core import cases as cs
from controller.core import catalog, complaints, followups
from controller.core.clock import business_day, iso
from controller.core.engine import Outcome
from controller.core.evaluations import LEVELS
from controller.core.state import HallState
from controller.core.views import ticket_view
from controller.store.ids import new_id
from controller.store.tokens import Principal, Role
from controller.store.writer import Reply
from controller.web.api import Handler, Route, _hall, _refused, _submit, json_response
from controller.web.auth import ANY_ROLE, READ_ALL_ROLES
from controller.web.body import Field, Schema, parse, read_body
from controller.web.errors import ApiError

CASE_ROLES = frozenset({Role.CLERK, Role.SUPERVISOR, Role.ADMIN})
PICKUP_ROLES = frozenset({Role.KIOSK, Role.SUPERVISOR, Role.ADMIN})


def _strings(value: Any, name: str, max_len: int = 100) -> tuple[str, ...]:
    if value is None:
        return ()
    if not all(isinstance(x, str) and 0 < len(x.strip()) <= max_len for x in value):
        raise ApiError(400, "bad_field", f"{name} is a list of non-empty strings")
    return tuple(x.strip() for x in value)


def _followups(state: HallState) -> dict[str, followups.FollowUp]:
    """Read only: GET handlers never add to the state."""
    return state.extra.get("followups", {})  # type: ignore[no-any-return]


def _complaints(state: HallState) -> dict[str, complaints.Complaint]:
    return state.extra.get("complaints", complaints.Desk()).complaints  # type: ignore[no-any-return]


def _actor(who: Principal) -> dict[str, Any]:
    return {"actor": who.token_id, "role": who.role.value}


# ---- items ---------------------------------------------------------------------------

def item_view(cfg: HallConfig, state: HallState, item: Item, full: bool = False
              ) -> dict[str, Any]:
    chain = catalog.path(catalog.items(state, cfg), item)
    view: dict[str, Any] = {
        "code": item.code,
        "name": item.name,
        "level": item.level,
        "path": [{"code": p.code, "name": p.name} for p in chain],
        "servable": item.servable,
        "category": item.category,
        "category_name": cfg.categories[item.category].name if item.category in cfg.categories
        else None,
        "case_type": item.case_type,
        "case_type_name": CASE_TYPE_NAMES.get(item.case_type or ""),
        "promised_days": item.promised_days,
        "ways": list(item.ways),
        "initials": item.initials,
    }
    if full:
        view.update({
            "item_type": item.item_type,
            "legal_days": item.legal_days,
            "system": item.system,
            "conditions": list(item.conditions),
            "materials": [m.to_dict() for m in item.materials],
            "review_points": list(item.review_points),
            "children": [i.code for i in catalog.items(state, cfg).values()
                         if i.parent == item.code],
        })
    return view


async def list_items(request: web.Request) -> web.Response:
    """Public: the catalog is published to citizens (5.1.3)."""
    hall = _hall(request)
    q = request.query.get("q", "")
    category = request.query.get("category") or None
    if len(q) > 50:
        raise ApiError(400, "bad_query", "q has at most 50 characters")
    if category is not None and category not in hall.cfg.categories:
        raise ApiError(400, "bad_query", f"no category {category!r}")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "bad_query", "limit must be an integer") from None
    if not 1 <= limit <= 500:
        raise ApiError(400, "bad_query", "limit is 1-500")
    state = hall.writer.state
    found = catalog.search(state, hall.cfg, q, category, limit)
    o = catalog.overlay(state)
    return json_response({
        "items": [item_view(hall.cfg, state, i) for i in found],
        "catalog_version": o.version,
        "updated_at": iso(o.updated_at, hall.cfg.day),
    })


async def get_item(request: web.Request) -> web.Response:
    """Any token (the kiosk, the console): the materials to bring for one item."""
    hall = _hall(request)
    await hall.auth.require(request, ANY_ROLE)
    state = hall.writer.state
    item = catalog.items(state, hall.cfg).get(request.match_info["code"])
    if item is None:
        raise ApiError(404, "item_not_found", "no such item")
    return json_response(item_view(hall.cfg, state, item, full=True))


# ---- cases ---------------------------------------------------------------------------

def case_view(cfg: HallConfig, case: cs.Case, notes: bool = True) -> dict[str, Any]:
    """`notes`: the staff's notes in the history (free text, for staff only)."""
    return {
        "case_no": case.case_no,
        "item_code": case.item_code,
        "item_name": case.item_name,
        "case_type": case.case_type,
        "case_type_name": CASE_TYPE_NAMES.get(case.case_type),
        "promised_days": case.promised_days,
        "status": case.status,
        "accepted_at": iso(case.accepted_at, cfg.day),
        "due_date": case.due_date,
        "overdue": case.overdue,
        "missing": list(case.missing),
        "missing_due": case.missing_due if case.missing else None,
        "materials_overdue": case.materials_overdue and bool(case.missing),
        "circulation": case.direction if case.status == "circulating" else None,
        "pickup_at": case.location if case.status == "ready" else None,
        "ticket_id": case.ticket_id,
        "window": case.window,
        "pickup_ticket_id": case.pickup_ticket,
        "picked_up_at": iso(case.finished_at, cfg.day),
        "history": [{**{k: v for k, v in h.items() if notes or k != "note"},
                     "at": iso(h["at"], cfg.day)} for h in case.history],
    }


ACCEPT_BODY: Schema = {
    "case_no": Field("string", True, "case number (办件编号) from the cloud platform", 50),
    "item_code": Field("string", False, "the item; default: the ticket's item", 50),
    "ticket_id": Field("string", False, "the ticket served; default for a clerk: the "
                       "window's current or last completed ticket", 64),
    "missing": Field("array", False, "容缺受理: names of materials that will follow later"),
}


async def accept_case(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, CASE_ROLES)
    raw = await read_body(request)
    body = parse(raw, ACCEPT_BODY)
    command = cs.AcceptCase(body["case_no"], body["item_code"], body["ticket_id"],
                            who.window if who.role is Role.CLERK else None,
                            _strings(body["missing"], "missing"), **_actor(who))

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (
            201, case_view(hall.cfg, cs.peek(state).cases[command.case_no]))

    return await _submit(request, who, command, render, raw)


async def list_cases(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, CASE_ROLES)
    status = request.query.get("status")
    if status is not None and status not in cs.STATUSES:
        raise ApiError(400, "bad_query", f"status is one of {', '.join(cs.STATUSES)}")
    overdue = request.query.get("overdue")
    if overdue not in (None, "true", "false"):
        raise ApiError(400, "bad_query", "overdue is true or false")
    found = [x for x in cs.peek(hall.writer.state).cases.values()
             if (status is None or x.status == status)
             and (overdue is None or (x.overdue or x.materials_overdue) == (overdue == "true"))]
    return json_response({"cases": [case_view(hall.cfg, x) for x in found]})


async def get_case(request: web.Request) -> web.Response:
    """Any token: the kiosk shows a citizen where their case stands (no personal data: the
    staff's notes only for the roles that handle cases)."""
    hall = _hall(request)
    who = await hall.auth.require(request, ANY_ROLE)
    case = cs.peek(hall.writer.state).cases.get(request.match_info["case_no"])
    if case is None:
        raise ApiError(404, "case_not_found", "no such case")
    return json_response(case_view(hall.cfg, case, notes=who.role in CASE_ROLES))


def _case_action(action: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        hall = _hall(request)
        who = await hall.auth.require(request, CASE_ROLES)
        raw = await read_body(request)
        body = parse(raw, CASE_ACTION_BODY)
        case_no = request.match_info["case_no"]
        command = cs.CaseAction(case_no, action, _strings(body["materials"], "materials"),
                                body["note"], window=who.window, **_actor(who))

        def render(state: HallState, outcome: Outcome) -> Reply:
            return _refused(outcome) or (200, case_view(hall.cfg, cs.get(state, case_no)))

        return await _submit(request, who, command, render, raw)
    handler.__name__ = f"case_{action}"  # the OpenAPI operationId
    return handler


CASE_ACTION_BODY: Schema = {
    "note": Field("string", False, "what was done, for the ledger", 500, multiline=True),
    "materials": Field("array", False, "supply: the missing materials handed in"),
}
CASE_ACTIONS = {
    "supply": "容缺: missing materials handed in",
    "circulate": "流转: a task for the circulation post (to the back office, or results to pickup)",
    "approve": "Approved by the back office (refused while materials are missing)",
    "ready": "Ready: at the window (instant) or the unified pickup area (promised)",
    "pick_up": "Handed over to the citizen",
}


async def pickup_ticket(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, PICKUP_ROLES)
    raw = await read_body(request)
    parse(raw, {})
    ticket_id = new_id()
    command = cs.TakePickupTicket(ticket_id, request.match_info["case_no"])

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (201, ticket_view(state, hall.cfg, state.tickets[ticket_id]))

    return await _submit(request, who, command, render, raw)


# ---- follow-ups ----------------------------------------------------------------------

def followup_view(cfg: HallConfig, f: followups.FollowUp, now: float) -> dict[str, Any]:
    d = f.data
    return {
        "id": f.id,
        "evaluation_id": f.evaluation_id,
        "level": d["level"],
        "level_name": LEVELS.get(d["level"]),
        "reasons": d.get("reasons", []),
        "ticket_id": d.get("ticket_id"),
        "number": d.get("number"),
        "window": d.get("window"),
        "window_name": d.get("window_name"),
        "case_no": d.get("case_no"),
        "item_code": d.get("item_code"),
        "opened_at": iso(f.opened_at, cfg.day),
        "status": "closed" if f.closed else "open",
        "next_step": f.next_step,
        "deadlines": f.deadlines,
        "overdue_steps": followups.overdue_steps(f, now, cfg),
        "steps": [{"step": s["step"], "note": s["note"], "by": s.get("by"),
                   "late": s.get("late", False), "at": iso(s["at"], cfg.day),
                   "business_day": business_day(s["at"], cfg.day)} for s in f.done],
    }


async def list_followups(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    status = request.query.get("status")
    if status not in (None, "open", "closed"):
        raise ApiError(400, "bad_query", "status is open or closed")
    now = time.time()
    found = [followup_view(hall.cfg, f, now) for f in _followups(hall.writer.state).values()]
    return json_response({"follow_ups": [f for f in found
                                         if status is None or f["status"] == status]})


STEP_BODY: Schema = {"note": Field("string", True, "what was done (核实/整改/回访/办结)", 500,
                                   multiline=True)}


def _followup_step(step: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        hall = _hall(request)
        who = await hall.auth.require(request, READ_ALL_ROLES)
        raw = await read_body(request)
        body = parse(raw, STEP_BODY)
        fid = request.match_info["followup_id"]
        command = followups.FollowUpStep(fid, step, body["note"], window=who.window,
                                         **_actor(who))

        def render(state: HallState, outcome: Outcome) -> Reply:
            return _refused(outcome) or (
                200, followup_view(hall.cfg, followups.ledger(state)[fid], time.time()))

        return await _submit(request, who, command, render, raw)
    handler.__name__ = f"followup_{step}"
    return handler


# ---- complaints ----------------------------------------------------------------------

def complaint_view(cfg: HallConfig, x: complaints.Complaint) -> dict[str, Any]:
    d = x.data
    return {
        "id": x.id,
        "number": x.number,
        "channel": d["channel"],
        "channel_name": complaints.CHANNEL_NAMES[d["channel"]],
        "summary": d["summary"],
        "ticket_id": d.get("ticket_id"),
        "case_no": d.get("case_no"),
        "window": d.get("window"),
        "registered_at": iso(x.registered_at, cfg.day),
        "deadline": x.deadline,
        "status": x.status,
        "assignee": x.assignee,
        "result": x.result,
        "overdue": x.overdue and x.status != "closed",
        "history": [{**h, "at": iso(h["at"], cfg.day)} for h in x.history],
    }


COMPLAINT_BODY: Schema = {
    "channel": Field("string", True, "letter 信函, on_site 现场, phone 电话, wechat 微信", 10,
                     complaints.CHANNELS),
    "summary": Field("string", True, "what the complaint is about", 1000, multiline=True),
    "ticket_id": Field("string", False, "the ticket concerned, when known", 64),
    "case_no": Field("string", False, "the case concerned, when known", 50),
    "window": Field("integer", False, "the window concerned, when known"),
}


async def register_complaint(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, CASE_ROLES)
    raw = await read_body(request)
    body = parse(raw, COMPLAINT_BODY)
    command = complaints.RegisterComplaint(
        new_id(), body["channel"], body["summary"], body["ticket_id"],
        body["case_no"], body["window"], who.token_id, who.role.value, who.window)

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (201, complaint_view(
            hall.cfg, complaints.desk(state).complaints[command.complaint_id]))

    return await _submit(request, who, command, render, raw)


async def list_complaints(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, CASE_ROLES)
    status = request.query.get("status")
    known = ("registered", "assigned", "resolved", "closed", "open")
    if status is not None and status not in known:
        raise ApiError(400, "bad_query", f"status is one of {', '.join(known)}")
    found = [complaint_view(hall.cfg, x)
             for x in _complaints(hall.writer.state).values()
             if status is None or x.status == status or (status == "open"
                                                         and x.status != "closed")]
    return json_response({"complaints": found})


COMPLAINT_ACTION_FIELDS = {"assign": ("to", "who handles it (name or post)"),
                           "resolve": ("result", "the result of the handling"),
                           "close": ("note", "closing note (e.g. the complainant was told)")}


def _complaint_action(action: str) -> Handler:
    name = COMPLAINT_ACTION_FIELDS[action][0]

    async def handler(request: web.Request) -> web.Response:
        hall = _hall(request)
        who = await hall.auth.require(request, READ_ALL_ROLES)
        raw = await read_body(request)
        body = parse(raw, _complaint_body(action))
        cid = request.match_info["complaint_id"]
        command = complaints.ComplaintAction(cid, action, body[name], window=who.window,
                                             **_actor(who))

        def render(state: HallState, outcome: Outcome) -> Reply:
            return _refused(outcome) or (
                200, complaint_view(hall.cfg, complaints.desk(state).complaints[cid]))

        return await _submit(request, who, command, render, raw)
    handler.__name__ = f"complaint_{action}"
    return handler


def _complaint_body(action: str) -> Schema:
    name, description = COMPLAINT_ACTION_FIELDS[action]
    return {name: Field("string", True, description, 1000, multiline=name != "to")}


# ---- supervision: what the dashboard flags --------------------------------------------

async def supervision(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    state, cfg, now = hall.writer.state, hall.cfg, time.time()
    return json_response({
        "overdue_cases": [case_view(cfg, x) for x in cs.peek(state).open.values()
                          if (x.overdue and x.status not in ("ready", "picked_up"))
                          or (x.materials_overdue and x.missing)],
        "open_follow_ups": [followup_view(cfg, f, now)
                            for f in _followups(state).values() if not f.closed],
        "overdue_complaints": [complaint_view(cfg, x)
                               for x in _complaints(state).values()
                               if x.overdue and x.status != "closed"],
    })


def case_routes() -> list[Route]:
    table = [
        Route("GET", "/api/items", list_items,
              "Search the item catalog by name, code or pinyin initials (?q=, ?category=)",
              None),
        Route("GET", "/api/items/{code}", get_item,
              "An item with its conditions, materials, review points and six ways", ANY_ROLE),
        Route("POST", "/api/cases", accept_case, "Accept a case (受理), or accept it with "
              "materials missing (容缺受理)", CASE_ROLES, ACCEPT_BODY, status=201),
        Route("GET", "/api/cases", list_cases,
              "Cases, with ?status=accepted|circulating|approved|ready|picked_up and "
              "?overdue=true|false", CASE_ROLES),
        Route("GET", "/api/cases/{case_no}", get_case, "A case with its history", ANY_ROLE),
        Route("POST", "/api/cases/{case_no}/pickup-ticket", pickup_ticket,
              "Take a ticket for the unified pickup area (出件) with a ready case's number",
              PICKUP_ROLES, {}, status=201),
        Route("GET", "/api/follow-ups", list_followups,
              "Follow-ups of bad ratings, with ?status=open|closed", READ_ALL_ROLES),
        Route("GET", "/api/complaints", list_complaints,
              "Complaints, with ?status=registered|assigned|resolved|closed|open", CASE_ROLES),
        Route("POST", "/api/complaints", register_complaint, "Register a complaint (投诉)",
              CASE_ROLES, COMPLAINT_BODY, status=201),
        Route("GET", "/api/supervision", supervision,
              "Supervision flags: overdue cases, open follow-ups, overdue complaints",
              READ_ALL_ROLES),
    ]
    for action, summary in CASE_ACTIONS.items():
        table.append(Route("POST", f"/api/cases/{{case_no}}/{action.replace('_', '-')}",
                           _case_action(action), summary, CASE_ROLES, CASE_ACTION_BODY))
    for step in FOLLOW_UP_STEPS:
        table.append(Route("POST", f"/api/follow-ups/{{followup_id}}/{step}",
                           _followup_step(step), f"Follow-up step: {step}", READ_ALL_ROLES,
                           STEP_BODY))
    for action in complaints.ACTIONS:
        table.append(Route("POST", f"/api/complaints/{{complaint_id}}/{action}",
                           _complaint_action(action), f"Complaint: {action}", READ_ALL_ROLES,
                           _complaint_body(action)))
    return table


