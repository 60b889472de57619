"""The hall's state as a projection of the event log, and `apply`, the only way it changes.

`apply` trusts its events: they were decided against this same state by `decide` and are
already committed, so it never refuses. Rebuilding at start is applying the whole log.
The state is mutated in place for speed; `decide` only reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.core import events as ev

# Sort key within a category queue: (band, time, order). Band 0 holds tickets put at the
# front by a transfer or a suspension's return, ordered by when that happened; band 1
# holds everything else by its issue (or landing) time; order breaks ties by issue order.
QueueKey = tuple[int, float, int]

SERVICE_EWMA_ALPHA = 0.2


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"  # at a window, being served
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    EXPIRED = "expired"


class WindowStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


@dataclass(slots=True)
class Ticket:
    id: str
    number: str
    category: str
    channel: str
    priority: str | None
    business_day: str
    issued_at: float
    order: int
    identity_hash: str | None = None
    status: TicketStatus = TicketStatus.WAITING
    queue_key: QueueKey = (1, 0.0, 0)
    queued_at: float = 0.0
    directed_window: int | None = None
    window: int | None = None
    called_at: float | None = None
    recalls: int = 0
    return_at: float | None = None
    case_no: str | None = None
    item_code: str | None = None
    credit_code: str | None = None  # the company served, when the clerk gave it
    finished_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class WindowState:
    number: int
    status: WindowStatus = WindowStatus.CLOSED
    pause_reason: str | None = None
    current: str | None = None
    credits: dict[str, int] = field(default_factory=dict)
    served: int = 0
    last_completed: str | None = None  # what this window's pad may rate


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


@dataclass(slots=True)
class Appointment:
    id: str
    category: str
    slot_start: float
    slot_end: float
    identity_hash: str
    source: str
    status: AppointmentStatus = AppointmentStatus.BOOKED
    ticket_id: str | None = None
    late: bool = False


@dataclass(slots=True)
class Notice:
    id: str
    text: str
    published_at: float
    until: float | None


class ReportState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    PARKED = "parked"  # the review system refused it (4xx): waits for a supervisor


@dataclass(slots=True)
class Evaluation:
    id: str
    ticket_id: str
    key: str  # "case:<no>" or "ticket:<id>": one evaluation each
    level: int
    channel: str
    at: float
    data: dict[str, Any]
    report: ReportState = ReportState.PENDING
    report_status: int | None = None
    report_detail: str | None = None


@dataclass(slots=True)
class HallState:
    """Everything the rules need. `waiting` holds ids per category, directed ones too."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    waiting: dict[str, dict[str, Ticket]] = field(default_factory=dict)
    # (category, priority group) -> tickets of that group waiting in that category
    priority_waiting: dict[tuple[str, str], int] = field(default_factory=dict)
    suspended: dict[str, Ticket] = field(default_factory=dict)
    windows: dict[int, WindowState] = field(default_factory=dict)
    day: str = ""  # the business day of the latest ticket issued
    issued_today: dict[str, int] = field(default_factory=dict)  # of `day`, per category
    person_today: dict[tuple[str, str], int] = field(default_factory=dict)  # of `day`
    # The counters of the last KEPT_DAYS days, `day`'s included (its are the same dicts):
    # a clock stepped back across the reset (a box that booted fast, then corrected by
    # NTP) resumes that day's numbering where it stopped, never at 001 again.
    issued_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    person_by_day: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    # Of those, the tickets of appointments checked in inside their slot, per day and
    # category: they are outside the walk-in quota (`engine._issue`), so the quota compares
    # the day's count less these. Derived from `appointment.checked_in` (`late` false),
    # which every log has, so logs written before this counter replay the same.
    booked_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    service_min: dict[str, float] = field(default_factory=dict)
    next_order: int = 0
    last_seq: int = 0
    appointments: dict[str, Appointment] = field(default_factory=dict)
    booked: dict[str, Appointment] = field(default_factory=dict)  # still to be checked in
    notices: dict[str, Notice] = field(default_factory=dict)
    # cloud command id -> its first outcome: {"result": "applied"|"rejected", ...}
    cloud_commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    evaluated: dict[str, str] = field(default_factory=dict)  # key -> evaluation id
    # State of core modules that register their own events (see register_event), by
    # module name: e.g. extra["alerts"]. Rebuilt from the log like everything else.
    extra: dict[str, Any] = field(default_factory=dict)

    def window(self, number: int) -> WindowState:
        state = self.windows.get(number)
        if state is None:
            state = self.windows[number] = WindowState(number)
        return state

    def waiting_in(self, prefix: str) -> dict[str, Ticket]:
        queue = self.waiting.get(prefix)
        if queue is None:
            queue = self.waiting[prefix] = {}
        return queue


def _enqueue(state: HallState, ticket: Ticket, key: QueueKey, at: float) -> None:
    ticket.status = TicketStatus.WAITING
    ticket.queue_key = key
    ticket.queued_at = at
    ticket.window = None
    ticket.called_at = None
    state.waiting_in(ticket.category)[ticket.id] = ticket
    if ticket.priority is not None:
        k = (ticket.category, ticket.priority)
        state.priority_waiting[k] = state.priority_waiting.get(k, 0) + 1


def _dequeue(state: HallState, ticket: Ticket) -> None:
    if state.waiting_in(ticket.category).pop(ticket.id, None) is not None and ticket.priority:
        state.priority_waiting[(ticket.category, ticket.priority)] -= 1
    state.suspended.pop(ticket.id, None)


def _release_window(state: HallState, ticket: Ticket) -> None:
    if ticket.window is not None:
        win = state.window(ticket.window)
        if win.current == ticket.id:
            win.current = None


def _history(ticket: Ticket, kind: str, at: float, data: dict[str, Any]) -> None:
    entry: dict[str, Any] = {"at": at, "event": kind}
    for key in ("window", "to_category", "to_window", "reason", "case_no", "item_code"):
        if data.get(key) is not None:
            entry[key] = data[key]
    ticket.history.append(entry)


def register_event(kind: str, handler: Handler) -> None:
    """Lets a core module apply its own event types (kept in `state.extra`)."""
    if kind in _HANDLERS:
        raise ValueError(f"event type {kind} is registered already")
    _HANDLERS[kind] = handler


def apply(state: HallState, kind: str, data: dict[str, Any], at: float, seq: int = 0) -> None:
    """Fold one committed event into the state."""
    if seq:
        state.last_seq = seq
    handler = _HANDLERS.get(kind)
    if handler is not None:  # unknown (future) event types are kept in the log, not applied
        handler(state, data, at)


KEPT_DAYS = 7


def _issued(state: HallState, d: dict[str, Any], at: float) -> None:
    day = d["business_day"]
    if day != state.day:
        state.day = day
        state.issued_today = state.issued_by_day.setdefault(day, {})
        state.person_today = state.person_by_day.setdefault(day, {})
        for old in sorted(state.issued_by_day)[:-KEPT_DAYS]:
            del state.issued_by_day[old]
            state.person_by_day.pop(old, None)
            state.booked_by_day.pop(old, None)
    ticket = Ticket(
        id=d["ticket_id"],
        number=d["number"],
        category=d["category"],
        channel=d["channel"],
        priority=d.get("priority"),
        business_day=day,
        issued_at=at,
        order=state.next_order,
        identity_hash=d.get("identity_hash"),
        item_code=d.get("item_code"),  # a ticket taken by item
        case_no=d.get("case_no"),  # a pickup ticket: the case it collects (cases.py)
    )
    state.next_order += 1
    state.tickets[ticket.id] = ticket
    state.issued_today[ticket.category] = d["seq_in_day"]
    if ticket.identity_hash:
        k = (ticket.identity_hash, ticket.category)
        state.person_today[k] = state.person_today.get(k, 0) + 1
    _enqueue(state, ticket, (1, at, ticket.order), at)
    _history(ticket, "issued", at, d)


def _called(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    _dequeue(state, ticket)
    ticket.status = TicketStatus.CALLED
    ticket.window = d["window"]
    ticket.directed_window = None
    ticket.called_at = at
    ticket.recalls = 0
    ticket.return_at = None
    win = state.window(d["window"])
    win.current = ticket.id
    if "credits" in d:
        win.credits = dict(d["credits"])
    _history(ticket, "called", at, d)


def _recalled(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    ticket.recalls += 1
    _history(ticket, "recalled", at, d)


def _finish(state: HallState, ticket: Ticket, status: TicketStatus, at: float) -> None:
    _dequeue(state, ticket)
    _release_window(state, ticket)
    ticket.status = status
    ticket.finished_at = at


def _no_show(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    _finish(state, ticket, TicketStatus.NO_SHOW, at)
    _history(ticket, "no_show", at, d)


def _completed(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    if ticket.called_at is not None:
        minutes = max(0.0, (at - ticket.called_at) / 60.0)
        previous = state.service_min.get(ticket.category)
        state.service_min[ticket.category] = (
            minutes
            if previous is None
            else previous + SERVICE_EWMA_ALPHA * (minutes - previous)
        )
    if ticket.window is not None:
        win = state.window(ticket.window)
        win.served += 1
        win.last_completed = ticket.id
    # The clerk's case number when given; otherwise the one the ticket already carries (a
    # pickup ticket is issued for its case): dropping it would let the pickup service be
    # rated as a case-less ticket, a second first evaluation of the same case.
    ticket.case_no = d.get("case_no") or ticket.case_no
    ticket.item_code = d.get("item_code") or ticket.item_code  # else the item it was taken for
    ticket.credit_code = d.get("credit_code")
    _finish(state, ticket, TicketStatus.COMPLETED, at)
    _history(ticket, "completed", at, d)


def _suspended(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    _release_window(state, ticket)
    ticket.status = TicketStatus.SUSPENDED
    ticket.return_at = d["return_at"]
    ticket.window = d["window"]  # remembered: the window that holds it
    state.suspended[ticket.id] = ticket
    _history(ticket, "suspended", at, d)


def _returned(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    state.suspended.pop(ticket.id, None)
    ticket.return_at = None
    _enqueue(state, ticket, (0, at, ticket.order), at)
    _history(ticket, "returned", at, d)


def _called_back(state: HallState, d: dict[str, Any], at: float) -> None:
    _called(state, d, at)
    state.tickets[d["ticket_id"]].history[-1]["event"] = "called_back"


def _transferred(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    _dequeue(state, ticket)
    _release_window(state, ticket)
    if d.get("to_category"):
        ticket.category = d["to_category"]
    ticket.directed_window = d.get("to_window")
    landing = d["landing"]
    if landing == "front":
        key: QueueKey = (0, at, ticket.order)
    elif landing == "by_issue_time":
        key = (1, ticket.issued_at, ticket.order)
    else:
        key = (1, at, ticket.order)
    _enqueue(state, ticket, key, at)
    ticket.recalls = 0
    _history(ticket, "transferred", at, d)


def _expired(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    _finish(state, ticket, TicketStatus.EXPIRED, at)
    _history(ticket, "expired", at, d)


def _window_opened(state: HallState, d: dict[str, Any], at: float) -> None:
    win = state.window(d["window"])
    win.status = WindowStatus.OPEN
    win.pause_reason = None


def _window_paused(state: HallState, d: dict[str, Any], at: float) -> None:
    win = state.window(d["window"])
    win.status = WindowStatus.PAUSED
    win.pause_reason = d.get("reason")


def _window_closed(state: HallState, d: dict[str, Any], at: float) -> None:
    win = state.window(d["window"])
    win.status = WindowStatus.CLOSED
    win.pause_reason = None


def _appointment_created(state: HallState, d: dict[str, Any], at: float) -> None:
    a = Appointment(d["appointment_id"], d["category"], d["slot_start"], d["slot_end"],
                    d["identity_hash"], d.get("source", "api"))
    state.appointments[a.id] = a
    state.booked[a.id] = a


def _appointment_status(status: AppointmentStatus) -> Handler:
    def handler(state: HallState, d: dict[str, Any], at: float) -> None:
        appointment = state.appointments[d["appointment_id"]]
        appointment.status = status
        state.booked.pop(appointment.id, None)
        if status is AppointmentStatus.CHECKED_IN:
            appointment.ticket_id = d["ticket_id"]
            appointment.late = bool(d.get("late"))
            if not appointment.late:
                _booked(state, state.tickets.get(d["ticket_id"]))
    return handler


def _booked(state: HallState, ticket: Ticket | None) -> None:
    """A ticket issued for an appointment inside its slot (the event right after its
    `ticket.issued`): counted apart, and taken back from its holder's per-person count,
    because a booked ticket is outside the walk-in quota and per-person limit (the
    booking was the limit; see `engine._issue`)."""
    if ticket is None:
        return
    day = ticket.business_day
    booked = state.booked_by_day.setdefault(day, {})
    booked[ticket.category] = booked.get(ticket.category, 0) + 1
    persons = state.person_by_day.get(day)
    k = (ticket.identity_hash or "", ticket.category)
    if persons is not None and persons.get(k, 0) > 0:
        persons[k] -= 1


def _notice_published(state: HallState, d: dict[str, Any], at: float) -> None:
    state.notices[d["notice_id"]] = Notice(d["notice_id"], d["text"], at, d.get("until"))


def _notice_withdrawn(state: HallState, d: dict[str, Any], at: float) -> None:
    state.notices.pop(d["notice_id"], None)


def _cloud_command(result: str) -> Handler:
    def handler(state: HallState, d: dict[str, Any], at: float) -> None:
        outcome = {"result": result, "kind": d.get("kind")}
        # the ids the command created: a repeat is answered with the same ticket
        for key in ("reason", "detail", "ticket_id", "appointment_id", "notice_id"):
            if key in d:
                outcome[key] = d[key]
        state.cloud_commands[d["command_id"]] = outcome
    return handler


def _evaluation_recorded(state: HallState, d: dict[str, Any], at: float) -> None:
    e = Evaluation(d["evaluation_id"], d["ticket_id"], d["key"], d["level"], d["channel"],
                   at, d)
    state.evaluations[e.id] = e
    state.evaluated[e.key] = e.id


def _report(report: ReportState) -> Handler:
    def handler(state: HallState, d: dict[str, Any], at: float) -> None:
        e = state.evaluations[d["evaluation_id"]]
        e.report = report
        e.report_status = d.get("status")
        e.report_detail = d.get("answer", d.get("detail"))  # "detail": logs before 2026-11-27
    return handler


Handler = Callable[[HallState, dict[str, Any], float], None]

_HANDLERS: dict[str, Handler] = {
    ev.TICKET_ISSUED: _issued,
    ev.TICKET_CALLED: _called,
    ev.TICKET_RECALLED: _recalled,
    ev.TICKET_NO_SHOW: _no_show,
    ev.TICKET_COMPLETED: _completed,
    ev.TICKET_SUSPENDED: _suspended,
    ev.TICKET_RETURNED: _returned,
    ev.TICKET_CALLED_BACK: _called_back,
    ev.TICKET_TRANSFERRED: _transferred,
    ev.TICKET_EXPIRED: _expired,
    ev.WINDOW_OPENED: _window_opened,
    ev.WINDOW_PAUSED: _window_paused,
    ev.WINDOW_RESUMED: _window_opened,
    ev.WINDOW_CLOSED: _window_closed,
    ev.APPOINTMENT_CREATED: _appointment_created,
    ev.APPOINTMENT_CANCELLED: _appointment_status(AppointmentStatus.CANCELLED),
    ev.APPOINTMENT_CHECKED_IN: _appointment_status(AppointmentStatus.CHECKED_IN),
    ev.APPOINTMENT_NO_SHOW: _appointment_status(AppointmentStatus.NO_SHOW),
    ev.NOTICE_PUBLISHED: _notice_published,
    ev.NOTICE_WITHDRAWN: _notice_withdrawn,
    ev.EVALUATION_RECORDED: _evaluation_recorded,
    ev.EVALUATION_REPORTED: _report(ReportState.DELIVERED),
    ev.EVALUATION_REPORT_PARKED: _report(ReportState.PARKED),
    ev.EVALUATION_REPORT_RETRY: _report(ReportState.PENDING),
    ev.CLOUD_COMMAND_APPLIED: _cloud_command("applied"),
    ev.CLOUD_COMMAND_REJECTED: _cloud_command("rejected"),
}
