"""The HTTP API under /api/: one table of routes, each with its roles and body schema.

Handlers are thin: check who is asking, parse the body, build a command, hand it to the
single writer, and answer with what the writer rendered after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from aiohttp import web

from controller.config.model import CHANNELS, HallConfig
from controller.core import commands as c
from controller.core.clock import iso
from controller.core.engine import Outcome
from controller.core.events import public_data
from controller.core.identity import IdentityError, id_number_of, keyed_hash
from controller.core.state import HallState
from controller.core.views import queue_view, ticket_view, window_view
from controller.store.eventlog import Envelope, EventLog
from controller.store.ids import new_id
from controller.store.sealed import SealedIdentities
from controller.store.tokens import Principal, Role
from controller.store.writer import IdempotencyKey, Reply, Writer
from controller.web.auth import ANY_ROLE, ISSUE_ROLES, READ_ALL_ROLES, WINDOW_ROLES, Authenticator
from controller.web.body import Field, Schema, parse, read_body
from controller.web.errors import ApiError


@dataclass(slots=True)
class Hall:
    """What the web layer needs of the running daemon."""

    cfg: HallConfig
    writer: Writer
    log: EventLog
    auth: Authenticator
    identity_key: bytes
    started_at: float
    sync_status: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None
    # ID numbers held for real-name review reports; None when none are to be kept.
    sealed: SealedIdentities | None = None


HALL = web.AppKey("hall", Hall)
log = structlog.get_logger("api")
MAX_SEQ = 2**62  # SQLite integers are 64-bit signed


def json_response(body: Any, status: int = 200) -> web.Response:
    """JSON with Chinese left readable (clerks and installers read these with curl)."""
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: frozenset[Role] | None  # None: public
    body: Schema | None = None
    window_scoped: bool = False
    status: int = 200  # the success status, 201 where something is created


def _hall(request: web.Request) -> Hall:
    return request.app[HALL]


def envelope_view(e: Envelope, hall: Hall) -> dict[str, Any]:
    return {"seq": e.seq, "id": e.id, "ts": iso(e.ts, hall.cfg.day), "type": e.type,
            "data": public_data(e.data)}


def _refused(outcome: Outcome) -> Reply | None:
    r = outcome.refusal
    return (r.status, {"error": r.code, "detail": r.detail}) if r is not None else None


async def _submit(request: web.Request, who: Principal, command: c.Command,
                  render: Callable[[HallState, Outcome], Reply], raw: bytes) -> web.Response:
    status, body = await _decided(request, who, command, render, raw)
    return json_response(body, status=status)


async def _decided(request: web.Request, who: Principal, command: c.Command,
                   render: Callable[[HallState, Outcome], Reply], raw: bytes) -> Reply:
    """The writer's answer to the command (idempotent replay included), once committed."""
    hall = _hall(request)
    idem = None
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        if not 1 <= len(key) <= 200:
            raise ApiError(400, "bad_idempotency_key", "Idempotency-Key has 1-200 characters")
        # Refused here, not left to the writer: a key SQLite cannot store (undecodable
        # bytes reach us as lone surrogates) would fail the commit it shares with others.
        if not (key.isascii() and key.isprintable()):
            raise ApiError(400, "bad_idempotency_key",
                           "Idempotency-Key takes printable ASCII only (letters, digits, "
                           "punctuation), e.g. a UUID")
        # Keyed: a body may hold an ID number, and a plain digest of it could be reversed
        # by hashing every possible ID (there are only about 10^11).
        fingerprint = hmac.new(
            hall.identity_key,
            request.method.encode() + b" " + request.path.encode() + b"\n" + raw,
            hashlib.sha256,
        ).hexdigest()
        idem = IdempotencyKey(who.token_id, key, fingerprint)
    return await hall.writer.submit(command, render, who.token_id, idem)


# ---- tickets -------------------------------------------------------------------------

ISSUE_BODY: Schema = {
    "category": Field("string", False, "business category prefix, e.g. A (or give item_code)", 1),
    "item_code": Field("string", False, "take the ticket by item (事项): its category", 50),
    "channel": Field("string", False, "how the ticket was taken (default kiosk)", 20, CHANNELS),
    "priority": Field("string", False, "priority group name, e.g. green", 32),
    "identity": Field("string", False,
                      "ID or mobile number for per-person limits; only a keyed hash is kept", 32),
}


async def issue_ticket(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, ISSUE_ROLES)
    raw = await read_body(request)
    body = parse(raw, ISSUE_BODY)
    if who.role is Role.KIOSK and (
            body["channel"] == "appointment"
            or (body["priority"] is not None
                and body["priority"] == hall.cfg.appointments.priority_group)):
        # The appointment group goes ahead of everyone else: a citizen reaches it by
        # checking a booking in, never by asking the ticket machine (a supervisor may).
        raise ApiError(403, "appointment_by_check_in",
                       "the appointment group and channel are given by checking a booking "
                       "in: POST /api/appointments/check-in")
    identity_hash = None
    if body["identity"] is not None:
        try:
            identity_hash = keyed_hash(hall.identity_key, body["identity"])
        except IdentityError as exc:
            raise ApiError(400, "bad_identity", str(exc)) from None
    ticket_id = new_id()
    command: c.Command = c.IssueTicket(ticket_id, body["category"], body["channel"] or "kiosk",
                                       body["priority"], identity_hash)
    if body["item_code"] is not None:  # by item: controller/core/catalog.py
        from controller.core.catalog import IssueByItem
        command = IssueByItem(ticket_id, body["item_code"], body["channel"] or "kiosk",
                              body["priority"], identity_hash, body["category"])
    elif body["category"] is None:
        raise ApiError(400, "missing_field", "give category or item_code")

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (201, ticket_view(state, hall.cfg, state.tickets[ticket_id]))

    status, answer = await _decided(request, who, command, render, raw)
    if status == 201 and answer["id"] == ticket_id:  # not an idempotent replay's answer
        await seal_identity(hall, ticket_id, body["identity"])
    return json_response(answer, status=status)


async def seal_identity(hall: Hall, ticket_id: str, identity: str | None) -> None:
    """Keep the ID number (not a phone number) a ticket was taken with, for its real-name
    review report (store/sealed.py), when the hall keeps them. The ticket stands whatever
    happens here: at worst its report goes anonymous. Called only for a ticket this request
    issued: a replayed answer's ticket was sealed when it was issued, and its number may
    since have been reported and erased, which sealing it again would undo."""
    if hall.sealed is None or identity is None:
        return
    number = id_number_of(identity)
    if number is None:
        return
    try:
        await hall.sealed.seal(ticket_id, number)
    except Exception:  # a full disk must not turn an issued ticket into an error
        log.exception("identity_not_sealed", ticket=ticket_id)


async def get_ticket(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, ANY_ROLE)
    ticket = hall.writer.state.tickets.get(request.match_info["ticket_id"])
    if ticket is None:
        raise ApiError(404, "ticket_not_found", "no such ticket")
    return json_response(ticket_view(hall.writer.state, hall.cfg, ticket, history=True))


async def get_queue(request: web.Request) -> web.Response:
    hall = _hall(request)
    return json_response(queue_view(hall.writer.state, hall.cfg))


async def get_windows(request: web.Request) -> web.Response:
    hall = _hall(request)
    state = hall.writer.state
    return json_response({"windows": [window_view(state, hall.cfg, n) for n in hall.cfg.windows]})


# ---- window actions ------------------------------------------------------------------

def _window_number(request: web.Request) -> int:
    raw = request.match_info["number"]
    # Bounded before int(): Python refuses to convert 4300 digits or more, with a ValueError.
    if (not (raw.isascii() and raw.isdigit()) or len(raw) > 9
            or int(raw) not in _hall(request).cfg.windows):
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        raise ApiError(404, "window_not_found", f"no window {shown} in this hall")
    return int(raw)


def query_date(request: web.Request, name: str = "date") -> str | None:
    """A YYYY-MM-DD query parameter, checked strictly: date.fromisoformat alone also takes
    2026-W48-6 and 20261128, and a regex with \\d takes other scripts' digits."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            return date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise ApiError(400, "bad_query", f"{name} must be a real date as YYYY-MM-DD, not {raw[:20]!r}")


def _last_ticket_id(outcome: Outcome, kinds: tuple[str, ...] | None = None) -> str | None:
    for event in reversed(outcome.events):
        if "ticket_id" in event.data and (not kinds or event.type in kinds):
            return str(event.data["ticket_id"])
    return None


WindowBuilder = Callable[[int, dict[str, Any]], c.WindowCommand]


@dataclass(frozen=True, slots=True)
class WindowAction:
    name: str
    summary: str
    build: WindowBuilder
    body: Schema
    # None: the answer has no ticket; (): the last ticket touched; else those event types'
    shows_ticket: tuple[str, ...] | None


def _window_action(action: WindowAction) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        hall = _hall(request)
        who = await hall.auth.principal(request)  # 401 before 404: say nothing to strangers
        number = _window_number(request)
        hall.auth.check(who, WINDOW_ROLES, number)
        raw = await read_body(request)
        command = action.build(number, parse(raw, action.body))

        def render(state: HallState, outcome: Outcome) -> Reply:
            refused = _refused(outcome)
            if refused:
                return refused
            answer: dict[str, Any] = {"window": window_view(state, hall.cfg, number)}
            if action.shows_ticket is not None:
                tid = _last_ticket_id(outcome, action.shows_ticket)
                answer["ticket"] = ticket_view(state, hall.cfg, state.tickets[tid]) if tid else None
            return 200, answer

        return await _submit(request, who, command, render, raw)

    return handler


_CASE = Field("string", False, "case number (办件编号) from the cloud platform", 50)
_ITEM = Field("string", False, "item code (事项编码)", 50)
_REASON = Field("string", True, "why, in a few words", 200)

WINDOW_ACTIONS: tuple[WindowAction, ...] = (
    WindowAction("open", "Open the window for service", lambda n, b: c.OpenWindow(n), {}, None),
    WindowAction("close", "Close the window", lambda n, b: c.CloseWindow(n), {}, None),
    WindowAction("pause", "Pause service with a reason", lambda n, b: c.PauseWindow(n, b["reason"]),
                 {"reason": _REASON}, None),
    WindowAction("resume", "Resume a paused window", lambda n, b: c.ResumeWindow(n), {}, None),
    WindowAction("call-next", "Complete the current ticket, if any, and call the next one",
                 lambda n, b: c.CallNext(n), {}, ("ticket.called",)),
    WindowAction("recall", "Call the current ticket again", lambda n, b: c.Recall(n), {}, ()),
    WindowAction("no-show", "The current ticket did not come: it is void",
                 lambda n, b: c.NoShow(n), {}, ()),
    WindowAction("complete", "Complete the current ticket, linking its case",
                 lambda n, b: c.Complete(n, b["case_no"], b["item_code"], b["credit_code"]),
                 {"case_no": _CASE, "item_code": _ITEM,
                  "credit_code": Field("string", False, "企业办事: the applicant company's "
                                       "unified social credit code (统一社会信用代码), for "
                                       "its review report", 24)}, ()),
    WindowAction("transfer", "Transfer the current ticket to a category or a window",
                 lambda n, b: c.Transfer(n, b["reason"], b["to_category"], b["to_window"]),
                 {"to_category": Field("string", False, "target category prefix", 1),
                  "to_window": Field("integer", False, "target window number"),
                  "reason": _REASON}, ()),
    WindowAction("suspend", "Suspend the current ticket (a paper is missing)",
                 lambda n, b: c.Suspend(n), {}, ()),
    WindowAction("call-back", "Call back a suspended ticket",
                 lambda n, b: c.CallBack(n, b["ticket_id"]),
                 {"ticket_id": Field("string", True, "the suspended ticket's id", 64)},
                 ("ticket.called_back",)),
)


# ---- events, health ------------------------------------------------------------------

async def get_events(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    try:
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "bad_query", "after and limit must be integers") from None
    if not 0 <= after <= MAX_SEQ or not 1 <= limit <= 1000:
        raise ApiError(400, "bad_query", f"after must be 0-{MAX_SEQ} and limit 1-1000")
    events = await hall.log.read(after, limit)
    return json_response({
        "events": [envelope_view(e, hall) for e in events],
        "last_seq": hall.writer.state.last_seq,
    })


async def healthz(request: web.Request) -> web.Response:
    hall = _hall(request)
    return json_response({
        "status": "ok",
        "hall_id": hall.cfg.hall_id,
        "last_seq": hall.writer.state.last_seq,
        "queued_commands": hall.writer.unanswered,
        "uptime_s": round(time.time() - hall.started_at, 1),
    })


async def get_sync(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    links = await hall.sync_status() if hall.sync_status else []
    return json_response({"last_seq": hall.writer.state.last_seq, "links": links})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: counts and states only, never anything about a person."""
    hall = _hall(request)
    state = hall.writer.state
    lines = [
        "# HELP hall_events_total Events committed to the log.",
        "# TYPE hall_events_total counter",
        f"hall_events_total {state.last_seq}",
        "# HELP hall_commits_total Group commits since start.",
        "# TYPE hall_commits_total counter",
        f"hall_commits_total {hall.writer.commits}",
        "# HELP hall_waiting Tickets waiting, per category.",
        "# TYPE hall_waiting gauge",
    ]
    for prefix in hall.cfg.categories:
        lines.append(f'hall_waiting{{category="{prefix}"}} {len(state.waiting.get(prefix, {}))}')
    lines += ["# HELP hall_issued_today Tickets issued this business day, per category.",
              "# TYPE hall_issued_today gauge"]
    for prefix in hall.cfg.categories:
        lines.append(f'hall_issued_today{{category="{prefix}"}} {state.issued_today.get(prefix, 0)}')
    lines += ["# HELP hall_window_open Windows open (1) or not (0).",
              "# TYPE hall_window_open gauge"]
    for number in hall.cfg.windows:
        is_open = int(state.window(number).status.value == "open")
        lines.append(f'hall_window_open{{window="{number}"}} {is_open}')
    if hall.sync_status:
        links = await hall.sync_status()
        lines += ["# HELP hall_sync_backlog Events not yet acknowledged by a cloud link.",
                  "# TYPE hall_sync_backlog gauge"]
        lines += [f'hall_sync_backlog{{link="{x["link"]}"}} {x["backlog"]}' for x in links]
        lines += ["# HELP hall_sync_connected Cloud link connected (1) or not (0).",
                  "# TYPE hall_sync_connected gauge"]
        lines += [f'hall_sync_connected{{link="{x["link"]}"}} {int(x["connected"])}'
                  for x in links]
        lines += ["# HELP hall_sync_oldest_unsent_age_seconds Age of the oldest unsent event.",
                  "# TYPE hall_sync_oldest_unsent_age_seconds gauge"]
        lines += [f'hall_sync_oldest_unsent_age_seconds{{link="{x["link"]}"}} '
                  f'{x["oldest_unsent_age_s"] or 0}' for x in links]
    response = web.Response(text="\n".join(lines) + "\n")
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


def routes() -> list[Route]:
    table = [
        Route("POST", "/api/tickets", issue_ticket, "Issue a ticket", ISSUE_ROLES, ISSUE_BODY,
              status=201),
        Route("GET", "/api/tickets/{ticket_id}", get_ticket, "A ticket with its history",
              ANY_ROLE),
        Route("GET", "/api/queue", get_queue, "Each category with its waiting tickets", None),
        Route("GET", "/api/windows", get_windows, "Each window with its state", None),
        Route("GET", "/api/events", get_events, "The event log after a sequence number",
              READ_ALL_ROLES),
        Route("GET", "/healthz", healthz, "Liveness and the log position", None),
        Route("GET", "/api/sync", get_sync, "Cloud links: state, backlog, last error",
              READ_ALL_ROLES),
        Route("GET", "/metrics", metrics, "Prometheus metrics", None),
    ]
    for action in WINDOW_ACTIONS:
        table.append(Route("POST", f"/api/windows/{{number}}/{action.name}",
                           _window_action(action), action.summary, WINDOW_ROLES, action.body,
                           window_scoped=True))
    # These modules import this one, so they are imported here, not at the top.
    from controller.web.api_appointments import appointment_routes
    from controller.web.api_cases import case_routes
    from controller.web.api_devices import device_routes
    from controller.web.api_display import display_routes
    from controller.web.api_evaluations import evaluation_routes
    from controller.web.api_flow import flow_routes

    return (table + appointment_routes() + evaluation_routes() + display_routes() + flow_routes()
            + case_routes() + device_routes())
