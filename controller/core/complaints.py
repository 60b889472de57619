"""Complaints (投诉, section 7): the "最多跑一次跑不成" complaint desk.

Registered from the console or the dashboard with the channel it came by (letter, on site,
phone, WeChat), linked to a ticket, a case or a window when known; assigned to someone;
resolved with the result; closed. Each has a deadline in working days
(`[cases].complaint_days`); one still open after it raises a supervision flag
(`complaint.overdue`) once, on the Tick. The complainant's own contact details are not
kept here: the summary is free text with long digit runs masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.config.model import HallConfig
from controller.core import cases
from controller.core.cases import by
from controller.core.commands import ModuleCommand
from controller.core.engine import register_command, register_tick
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import scrub
from controller.core.state import HallState, register_event
from controller.core.workdays import due, past, today

COMPLAINT_REGISTERED = "complaint.registered"
COMPLAINT_ASSIGNED = "complaint.assigned"
COMPLAINT_RESOLVED = "complaint.resolved"
COMPLAINT_CLOSED = "complaint.closed"
COMPLAINT_OVERDUE = "complaint.overdue"
TYPES = (COMPLAINT_REGISTERED, COMPLAINT_ASSIGNED, COMPLAINT_RESOLVED, COMPLAINT_CLOSED,
         COMPLAINT_OVERDUE)
CHANNELS = ("letter", "on_site", "phone", "wechat")
CHANNEL_NAMES = {"letter": "信函", "on_site": "现场", "phone": "电话", "wechat": "微信"}
ACTIONS = ("assign", "resolve", "close")
MAX_TEXT = 1000


@dataclass(frozen=True, slots=True)
class RegisterComplaint(ModuleCommand):
    complaint_id: str
    channel: str
    summary: str
    ticket_id: str | None = None
    case_no: str | None = None
    window: int | None = None
    actor: str | None = None
    role: str | None = None
    by_window: int | None = None


@dataclass(frozen=True, slots=True)
class ComplaintAction(ModuleCommand):
    complaint_id: str
    action: str
    text: str  # assign: to whom; resolve: the result; close: a closing note
    actor: str | None = None
    role: str | None = None
    window: int | None = None


@dataclass(slots=True)
class Complaint:
    id: str
    number: str
    registered_at: float
    data: dict[str, Any]
    deadline: str
    status: str = "registered"  # assigned, resolved, closed
    assignee: str | None = None
    result: str | None = None
    overdue: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Desk:
    complaints: dict[str, Complaint] = field(default_factory=dict)
    per_day: dict[str, int] = field(default_factory=dict)


def desk(state: HallState) -> Desk:
    found = state.extra.get("complaints")
    if found is None:
        found = state.extra["complaints"] = Desk()
    return found


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise invalid(f"{what}_required", f"give the {what}")
    if len(value) > MAX_TEXT:
        raise invalid(f"{what}_too_long", f"the {what} has at most {MAX_TEXT} characters")
    return scrub(value)


def _register(state: HallState, cfg: HallConfig, cmd: RegisterComplaint, now: float
              ) -> list[Event]:
    if cmd.channel not in CHANNELS:
        raise invalid("bad_channel", f"channel is one of {', '.join(CHANNELS)}")
    summary = _text(cmd.summary, "summary")
    if cmd.complaint_id in state.extra.get("complaints", Desk()).complaints:
        raise Refusal("duplicate_complaint_id", "complaint id exists already")
    window = cmd.window
    if cmd.ticket_id is not None:
        ticket = state.tickets.get(cmd.ticket_id)
        if ticket is None:
            raise not_found("ticket", f"no ticket {cmd.ticket_id}")
        window = window if window is not None else ticket.window
    if cmd.case_no is not None:
        case = cases.get(state, cmd.case_no)
        window = window if window is not None else case.window
    if window is not None and window not in cfg.windows:
        raise invalid("unknown_window", f"no window {window} in this hall")
    day = today(now, cfg.day)
    seq = state.extra.get("complaints", Desk()).per_day.get(day.isoformat(), 0) + 1
    return [Event(COMPLAINT_REGISTERED, {
        "complaint_id": cmd.complaint_id,
        "number": f"TS{day:%Y%m%d}{seq:03d}",
        "day": day.isoformat(),
        "channel": cmd.channel,
        "summary": summary,
        "ticket_id": cmd.ticket_id,
        "case_no": cmd.case_no,
        "window": window,
        "deadline": due(now, cfg.cases.complaint_days, cfg.cases, cfg.day),
        "by": by(cmd.actor, cmd.role, cmd.by_window),
    })]


def _act(state: HallState, cfg: HallConfig, cmd: ComplaintAction, now: float) -> list[Event]:
    found = state.extra.get("complaints", Desk()).complaints.get(cmd.complaint_id)
    if found is None:
        raise not_found("complaint", f"no complaint {cmd.complaint_id}")
    allowed = {"assign": ("registered", "assigned"), "resolve": ("assigned",),
               "close": ("resolved",)}
    if cmd.action not in allowed:
        raise invalid("bad_action", f"action is one of {', '.join(ACTIONS)}")
    if found.status not in allowed[cmd.action]:
        raise Refusal("bad_complaint_state",
                      f"complaint {found.number} is {found.status}: cannot {cmd.action}")
    kind = {"assign": COMPLAINT_ASSIGNED, "resolve": COMPLAINT_RESOLVED,
            "close": COMPLAINT_CLOSED}[cmd.action]
    key = {"assign": "assignee", "resolve": "result", "close": "note"}[cmd.action]
    return [Event(kind, {"complaint_id": found.id, key: _text(cmd.text, key),
                         "by": by(cmd.actor, cmd.role, cmd.window),
                         "late": past(found.deadline, now, cfg.day)})]


def _sweep(state: HallState, cfg: HallConfig, now: float) -> list[Event]:
    found = state.extra.get("complaints")  # read only: a sweep must not add state
    return [Event(COMPLAINT_OVERDUE, {"complaint_id": x.id, "deadline": x.deadline})
            for x in (found.complaints.values() if found is not None else ())
            if x.status != "closed" and not x.overdue and past(x.deadline, now, cfg.day)]


def _registered(state: HallState, d: dict[str, Any], at: float) -> None:
    x = Complaint(d["complaint_id"], d["number"], at, d, d["deadline"])
    dk = desk(state)
    dk.complaints[x.id] = x
    dk.per_day[d["day"]] = dk.per_day.get(d["day"], 0) + 1
    x.history.append({"at": at, "event": "registered", "by": d.get("by")})


def _changed(status: str | None) -> Any:
    def handler(state: HallState, d: dict[str, Any], at: float) -> None:
        x = desk(state).complaints[d["complaint_id"]]
        if status is None:
            x.overdue = True
            x.history.append({"at": at, "event": "overdue"})
            return
        x.status = status
        if "assignee" in d:
            x.assignee = d["assignee"]
        if "result" in d:
            x.result = d["result"]
        x.history.append({"at": at, "event": status,
                          **{k: d[k] for k in ("assignee", "result", "note", "by", "late")
                             if k in d}})
    return handler


register_command(RegisterComplaint, _register)
register_command(ComplaintAction, _act)
register_tick(_sweep)
register_event(COMPLAINT_REGISTERED, _registered)
register_event(COMPLAINT_ASSIGNED, _changed("assigned"))
register_event(COMPLAINT_RESOLVED, _changed("resolved"))
register_event(COMPLAINT_CLOSED, _changed("closed"))
register_event(COMPLAINT_OVERDUE, _changed(None))
