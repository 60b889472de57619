"""Cases (办件) from acceptance to pickup, as events (sections 6.2.3 to 6.2.5).

    accepted ──(circulate)──> circulating ──(approve)──> approved ──(ready)──> ready ──> picked_up
        └────────────(approve)────────────────┘   └─(circulate: results to pickup)─┘

- Accepted, or accepted with materials missing (容缺受理: only materials the item lets
  follow, with a deadline in working days); a case cannot be approved while any is missing.
- Circulating (流转, 6.2.4): a task for the circulation post, materials to the back office
  after acceptance, or results to the pickup window after approval.
- Instant cases (即办件) are handed over at the window (picked up straight from approved);
  promised cases (承诺件) are due by their promised date (working days) and are picked up
  at the unified pickup area (6.2.5): a citizen with the case number takes a pickup ticket.
- A promised case not ready by the end of its due date, or materials still missing after
  theirs, raises a supervision flag (`case.overdue`) once, on the engine's Tick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from controller.config.model import HallConfig
from controller.core import catalog
from controller.core import commands as c
from controller.core.engine import _issue, register_command, register_tick
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import scrub
from controller.core.state import HallState, TicketStatus, register_event
from controller.core.workdays import due, today

CASE_ACCEPTED = "case.accepted"
CASE_MATERIALS_SUPPLIED = "case.materials_supplied"
CASE_CIRCULATING = "case.circulating"
CASE_APPROVED = "case.approved"
CASE_READY = "case.ready"
CASE_PICKUP_TICKET = "case.pickup_ticket"
CASE_PICKED_UP = "case.picked_up"
CASE_OVERDUE = "case.overdue"
TYPES = (CASE_ACCEPTED, CASE_MATERIALS_SUPPLIED, CASE_CIRCULATING, CASE_APPROVED, CASE_READY,
         CASE_PICKUP_TICKET, CASE_PICKED_UP, CASE_OVERDUE)

STATUSES = ("accepted", "circulating", "approved", "ready", "picked_up")
ACTIONS = ("supply", "circulate", "approve", "ready", "pick_up")
_CODE = re.compile(r"[0-9A-Za-z_.:/-]{1,50}")


def by(actor: str | None, role: str | None, window: int | None) -> dict[str, Any]:
    """Who did it, as recorded in the event: the token, its role, its window."""
    return {k: v for k, v in (("token", actor), ("role", role), ("window", window))
            if v is not None}


@dataclass(frozen=True, slots=True)
class AcceptCase(c.ModuleCommand):
    case_no: str
    item_code: str | None = None  # default: the item the ticket was taken or completed for
    ticket_id: str | None = None
    window: int | None = None  # a clerk's window: its current or last completed ticket
    missing: tuple[str, ...] = ()
    actor: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class CaseAction(c.ModuleCommand):
    case_no: str
    action: str
    materials: tuple[str, ...] = ()  # supply
    note: str | None = None
    actor: str | None = None
    role: str | None = None
    window: int | None = None


@dataclass(frozen=True, slots=True)
class TakePickupTicket(c.ModuleCommand):
    ticket_id: str
    case_no: str
    channel: str = "kiosk"


@dataclass(slots=True)
class Case:
    case_no: str
    item_code: str
    item_name: str
    case_type: str
    promised_days: int
    accepted_at: float
    due_date: str | None
    ticket_id: str | None
    window: int | None
    missing: list[str] = field(default_factory=list)
    missing_due: str | None = None
    status: str = "accepted"
    direction: str | None = None  # circulating: to_back_office or to_pickup
    location: str | None = None  # ready: window or pickup_area
    pickup_ticket: str | None = None
    overdue: bool = False
    materials_overdue: bool = False
    finished_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Book:
    cases: dict[str, Case] = field(default_factory=dict)
    open: dict[str, Case] = field(default_factory=dict)  # not yet picked up: swept on Tick
    by_ticket: dict[str, str] = field(default_factory=dict)  # ticket id -> its (last) case


def book(state: HallState) -> Book:
    found = state.extra.get("cases")
    if found is None:
        found = state.extra["cases"] = Book()
    return found


def peek(state: HallState) -> Book:
    """For readers (API, reports): never adds to the state, which only events may change."""
    found = state.extra.get("cases")
    return found if found is not None else Book()


def get(state: HallState, case_no: str) -> Case:
    case = peek(state).cases.get(case_no)
    if case is None:
        raise not_found("case", f"no case {case_no}")
    return case


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > 500:
        raise invalid("note_too_long", "a note has at most 500 characters")
    return scrub(note) or None


def _accept(state: HallState, cfg: HallConfig, cmd: AcceptCase, now: float) -> list[Event]:
    if not _CODE.fullmatch(cmd.case_no):
        raise invalid("bad_case_no", "case_no must be 1-50 letters, digits or _.:/-")
    if cmd.case_no in peek(state).cases:
        raise Refusal("case_exists", f"case {cmd.case_no} was accepted already")
    ticket = None
    if cmd.ticket_id is not None:
        ticket = state.tickets.get(cmd.ticket_id)
        if ticket is None:
            raise not_found("ticket", f"no ticket {cmd.ticket_id}")
    elif cmd.window is not None:
        win = state.window(cmd.window)
        tid = win.current or win.last_completed
        ticket = state.tickets.get(tid) if tid else None
    if (ticket is not None and cmd.ticket_id is not None and cmd.window is not None
            and ticket.window != cmd.window):
        raise Refusal("not_this_window", f"{ticket.number} was not served at window "
                      f"{cmd.window}", 403)
    if ticket is not None and ticket.status not in (TicketStatus.CALLED, TicketStatus.COMPLETED):
        raise Refusal("not_served", f"{ticket.number} is {ticket.status.value}: a case is "
                      "accepted for a ticket at a window or served")
    code = cmd.item_code or (ticket.item_code if ticket else None)
    if code is None:
        raise invalid("item_required", "give item_code (the ticket names no item)")
    item = catalog.servable(state, cfg, code)
    assert item.case_type is not None
    missing = list(dict.fromkeys(m.strip() for m in cmd.missing))
    if len(missing) != len(cmd.missing):
        raise invalid("bad_missing", "a missing material is named twice")
    may_follow = {m.name for m in item.materials if m.may_follow}
    for name in missing:
        if name not in may_follow:
            allowed = "、".join(sorted(may_follow)) or "none"
            raise invalid("not_may_follow", f"{name!r} may not follow later for {item.name} "
                          f"(容缺 allowed for: {allowed})")
    data: dict[str, Any] = {
        "case_no": cmd.case_no, "item_code": item.code, "item_name": item.name,
        "case_type": item.case_type, "promised_days": item.promised_days,
        "due_date": due(now, item.promised_days, cfg.cases, cfg.day)
        if item.case_type == "promised" else None,
        "ticket_id": ticket.id if ticket else None,
        "window": ticket.window if ticket else cmd.window,
        "by": by(cmd.actor, cmd.role, cmd.window),
    }
    if missing:
        data["missing"] = missing
        data["missing_due"] = due(now, cfg.cases.missing_materials_days, cfg.cases, cfg.day)
    return [Event(CASE_ACCEPTED, data)]


def _act(state: HallState, cfg: HallConfig, cmd: CaseAction, now: float) -> list[Event]:
    case = get(state, cmd.case_no)
    base: dict[str, Any] = {"case_no": case.case_no}
    note = _note(cmd.note)
    if note:
        base["note"] = note
    base["by"] = by(cmd.actor, cmd.role, cmd.window)
    status = case.status

    def refuse() -> Refusal:
        return Refusal("bad_case_state", f"case {case.case_no} is {status}: cannot {cmd.action}")

    if status == "picked_up":
        raise refuse()
    if cmd.action == "supply":
        if not cmd.materials:
            raise invalid("materials_required", "name the materials handed in")
        unknown = [m for m in cmd.materials if m not in case.missing]
        if unknown:
            raise invalid("not_missing", f"{unknown[0]!r} is not missing from case "
                          f"{case.case_no}")
        return [Event(CASE_MATERIALS_SUPPLIED, {**base, "materials": list(cmd.materials)})]
    if cmd.action == "circulate":
        if status == "accepted":
            direction = "to_back_office"
        elif status == "approved" and case.case_type == "promised":
            direction = "to_pickup"
        else:
            raise refuse()
        return [Event(CASE_CIRCULATING, {**base, "direction": direction})]
    if cmd.action == "approve":
        if not (status == "accepted" or (status == "circulating"
                                         and case.direction == "to_back_office")):
            raise refuse()
        if case.missing:
            raise Refusal("materials_missing", f"still missing: {'、'.join(case.missing)}")
        return [Event(CASE_APPROVED, base)]
    if cmd.action == "ready":
        if not (status == "approved" or (status == "circulating"
                                         and case.direction == "to_pickup")):
            raise refuse()
        location = "window" if case.case_type == "instant" else "pickup_area"
        return [Event(CASE_READY, {**base, "location": location})]
    if cmd.action == "pick_up":
        if status == "ready" or (status == "approved" and case.case_type == "instant"):
            return [Event(CASE_PICKED_UP, base)]
        raise refuse()
    raise invalid("bad_action", f"action is one of {', '.join(ACTIONS)}")


def _pickup_ticket(state: HallState, cfg: HallConfig, cmd: TakePickupTicket, now: float
                   ) -> list[Event]:
    prefix = cfg.cases.pickup_category
    if prefix is None:
        raise Refusal("no_pickup_area", "this hall has no pickup category ([cases].pickup_category)")
    case = get(state, cmd.case_no)
    if case.status != "ready" or case.location != "pickup_area":
        raise Refusal("not_ready", f"case {case.case_no} is {case.status.replace('_', ' ')}"
                      + ("" if case.status != "ready" else ": hand over at the window"))
    held = state.tickets.get(case.pickup_ticket) if case.pickup_ticket else None
    if held is not None and held.status in (TicketStatus.WAITING, TicketStatus.CALLED,
                                            TicketStatus.SUSPENDED):
        raise Refusal("pickup_ticket_exists", f"case {case.case_no} already has ticket "
                      f"{held.number}")
    events = _issue(state, cfg, c.IssueTicket(cmd.ticket_id, prefix, cmd.channel), now)
    events[0].data["item_code"] = case.item_code
    events[0].data["case_no"] = case.case_no
    return events + [Event(CASE_PICKUP_TICKET, {
        "case_no": case.case_no, "ticket_id": cmd.ticket_id,
        "number": events[0].data["number"]})]


def _sweep(state: HallState, cfg: HallConfig, now: float) -> list[Event]:
    found = state.extra.get("cases")  # read only: a sweep must not add state a replay lacks
    out: list[Event] = []
    if found is None or not found.open:
        return out
    day = today(now, cfg.day).isoformat()  # due dates are passed once today is later
    for case in found.open.values():
        if (case.due_date and not case.overdue and case.status not in ("ready", "picked_up")
                and day > case.due_date):
            out.append(Event(CASE_OVERDUE, {"case_no": case.case_no, "kind": "promise",
                                            "due_date": case.due_date,
                                            "item_code": case.item_code}))
        if (case.missing and case.missing_due and not case.materials_overdue
                and day > case.missing_due):
            out.append(Event(CASE_OVERDUE, {"case_no": case.case_no, "kind": "materials",
                                            "due_date": case.missing_due,
                                            "item_code": case.item_code,
                                            "missing": list(case.missing)}))
    return out


# ---- applying the events -------------------------------------------------------------

def _history(case: Case, kind: str, at: float, d: dict[str, Any]) -> None:
    entry = {"at": at, "event": kind.removeprefix("case.")}
    entry.update({k: v for k, v in d.items() if k in ("by", "note", "direction", "materials",
                                                       "location", "number", "kind")})
    case.history.append(entry)


def _accepted(state: HallState, d: dict[str, Any], at: float) -> None:
    case = Case(d["case_no"], d["item_code"], d["item_name"], d["case_type"],
                d["promised_days"], at, d.get("due_date"), d.get("ticket_id"), d.get("window"),
                list(d.get("missing", [])), d.get("missing_due"))
    b = book(state)
    b.cases[case.case_no] = b.open[case.case_no] = case
    if case.ticket_id:
        b.by_ticket[case.ticket_id] = case.case_no
        # Its ticket was rated before the case was accepted (the clerk completed it without
        # the number): that rating is the case's first evaluation, so no second one later.
        rated = state.evaluated.get(f"ticket:{case.ticket_id}")
        if rated is not None:
            state.evaluated.setdefault(f"case:{case.case_no}", rated)
    _history(case, CASE_ACCEPTED, at, d)


def _status(status: str | None) -> Any:
    def handler(state: HallState, d: dict[str, Any], at: float) -> None:
        case = book(state).cases[d["case_no"]]
        if status is not None:
            case.status = status
        if "direction" in d:
            case.direction = d["direction"]
        if "location" in d:
            case.location = d["location"]
        if status == "picked_up":
            case.finished_at = at
            book(state).open.pop(case.case_no, None)
        _history(case, f"case.{status}", at, d)
    return handler


def _supplied(state: HallState, d: dict[str, Any], at: float) -> None:
    case = book(state).cases[d["case_no"]]
    case.missing = [m for m in case.missing if m not in d["materials"]]
    _history(case, CASE_MATERIALS_SUPPLIED, at, d)


def _pickup_ticket_taken(state: HallState, d: dict[str, Any], at: float) -> None:
    case = book(state).cases[d["case_no"]]
    case.pickup_ticket = d["ticket_id"]
    _history(case, CASE_PICKUP_TICKET, at, d)


def _overdue(state: HallState, d: dict[str, Any], at: float) -> None:
    case = book(state).cases[d["case_no"]]
    if d["kind"] == "materials":
        case.materials_overdue = True
    else:
        case.overdue = True
    _history(case, CASE_OVERDUE, at, d)


register_command(AcceptCase, _accept)
register_command(CaseAction, _act)
register_command(TakePickupTicket, _pickup_ticket)
register_tick(_sweep)
register_event(CASE_ACCEPTED, _accepted)
register_event(CASE_MATERIALS_SUPPLIED, _supplied)
register_event(CASE_CIRCULATING, _status("circulating"))
register_event(CASE_APPROVED, _status("approved"))
register_event(CASE_READY, _status("ready"))
register_event(CASE_PICKED_UP, _status("picked_up"))
register_event(CASE_PICKUP_TICKET, _pickup_ticket_taken)
register_event(CASE_OVERDUE, _overdue)
