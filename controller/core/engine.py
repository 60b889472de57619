"""The hall's rules: a command and the current state in, events out.

`decide` reads the state and returns the events a command causes, or raises `Refusal`.
`execute` is what the single writer calls: it first lets time pass (yesterday's queue
ends, suspended tickets come back), then decides the command, applying each event as it
goes so the next decision sees it. No I/O and no clock: `now` is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.config.model import CHANNELS, HallConfig
from controller.core import appointments, evaluations, notices
from controller.core import commands as c
from controller.core import events as ev
from controller.core.clock import business_day, closes_text, within_hours
from controller.core.dispatch import choose
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import IdentityError, credit_code, scrub
from controller.core.state import HallState, Ticket, TicketStatus, WindowStatus, apply

MAX_CODE_LEN = 50  # case numbers and item codes: up to 50 characters upstream
MAX_REASON_LEN = 200
_CODE = re.compile(r"[0-9A-Za-z_.:/-]{1,50}")


@dataclass(frozen=True, slots=True)
class Outcome:
    events: list[Event]
    refusal: Refusal | None = None


def execute(state: HallState, cfg: HallConfig, cmd: c.Command, now: float) -> Outcome:
    """Decide and apply. Time-driven events are kept even when the command is refused."""
    done = _apply_all(state, passage_of_time(state, cfg, now, isinstance(cmd, c.Tick)), now)
    if isinstance(cmd, c.Tick):
        return Outcome(done)
    try:
        events = decide(state, cfg, cmd, now)
    except Refusal as refusal:
        return Outcome(done, refusal)
    return Outcome(done + _apply_all(state, events, now))


def _apply_all(state: HallState, events: list[Event], now: float) -> list[Event]:
    for e in events:
        apply(state, e.type, e.data, now)
    return events


def passage_of_time(state: HallState, cfg: HallConfig, now: float, tick: bool = True
                    ) -> list[Event]:
    """What time alone causes. Cheap on every command; the slower sweeps only on a Tick."""
    today = business_day(now, cfg.day)
    out: list[Event] = []
    # Every waiting ticket is of state.day or earlier: no older day, nothing to expire.
    if state.day and state.day < today:
        for queue in state.waiting.values():
            for t in queue.values():
                if t.business_day < today:
                    out.append(Event(ev.TICKET_EXPIRED, {"ticket_id": t.id, "number": t.number}))
        # A service left open at a window over the day's end is closed as expired, not
        # completed: its day-long "service time" must not feed tomorrow's estimates.
        for win in state.windows.values():
            served = state.tickets.get(win.current) if win.current else None
            if served is not None and served.business_day < today:
                out.append(Event(ev.TICKET_EXPIRED, {"ticket_id": served.id,
                                                     "number": served.number,
                                                     "window": win.number}))
    if tick:
        out.extend(appointments.no_shows(state, cfg, now))
        for ticker in _TICKERS:
            out.extend(ticker(state, cfg, now))
    for t in state.suspended.values():
        if t.business_day < today:
            out.append(Event(ev.TICKET_EXPIRED, {"ticket_id": t.id, "number": t.number}))
        elif t.return_at is not None and t.return_at <= now:
            out.append(Event(ev.TICKET_RETURNED, {
                "ticket_id": t.id, "number": t.number, "reason": "suspension timed out",
            }))
    return out


Decider = Callable[[HallState, HallConfig, Any, float], list[Event]]
Ticker = Callable[[HallState, HallConfig, float], list[Event]]
_DECIDERS: dict[type, Decider] = {}
_TICKERS: list[Ticker] = []


def register_command(kind: type, decider: Decider) -> None:
    """Lets a core module own its commands (flow alerts, cases, ...) without this file
    knowing them. The module registers at import; `controller.core.modules` imports all."""
    if kind in _DECIDERS:
        raise ValueError(f"{kind.__name__} is registered already")
    _DECIDERS[kind] = decider


def register_tick(ticker: Ticker) -> None:
    """A sweep run on every Tick (every few seconds): what time alone causes in a module."""
    _TICKERS.append(ticker)


def decide(state: HallState, cfg: HallConfig, cmd: c.Command, now: float) -> list[Event]:
    registered = _DECIDERS.get(type(cmd))
    if registered is not None:
        return registered(state, cfg, cmd, now)
    if isinstance(cmd, c.IssueTicket):
        return _issue(state, cfg, cmd, now)
    if isinstance(cmd, c.Tick):
        return passage_of_time(state, cfg, now)
    if isinstance(cmd, c.FromCloud):
        return _from_cloud(state, cfg, cmd, now)
    if isinstance(cmd, c.CheckIn):
        return _check_in(state, cfg, cmd, now)
    if isinstance(cmd, c.CreateAppointment):
        return appointments.create(state, cfg, cmd, now)
    if isinstance(cmd, c.CancelAppointment):
        return appointments.cancel(state, cfg, cmd, now)
    if isinstance(cmd, c.PublishNotice):
        return notices.publish(state, cmd, now)
    if isinstance(cmd, c.WithdrawNotice):
        return notices.withdraw(state, cmd)
    if isinstance(cmd, c.Evaluate):
        return evaluations.evaluate(state, cfg, cmd, now)
    if isinstance(cmd, c.RecordReport):
        return evaluations.record_report(state, cmd)
    if isinstance(cmd, c.RetryReport):
        return evaluations.retry_report(state, cmd)
    if isinstance(cmd, c.ModuleCommand):
        raise TypeError(f"{type(cmd).__name__} is not registered: import its module in "
                        "controller.core.modules")
    if cmd.window not in cfg.windows:
        raise not_found("window", f"no window {cmd.window} in this hall")
    handler = _WINDOW_HANDLERS[type(cmd)]
    return handler(state, cfg, cmd, now)


def _from_cloud(state: HallState, cfg: HallConfig, cmd: c.FromCloud, now: float
                ) -> list[Event]:
    """Once per command id: a repeat is refused with `duplicate_command`, and the shell
    answers it with the first outcome, found in `state.cloud_commands`."""
    if cmd.command_id in state.cloud_commands:
        raise Refusal("duplicate_command", f"command {cmd.command_id} was handled already", 200)
    base = {"command_id": cmd.command_id, "kind": cmd.kind}
    if cmd.expires_at is not None and cmd.expires_at < now:
        return [Event(ev.CLOUD_COMMAND_REJECTED,
                      {**base, "reason": "expired", "detail": "the command expired before it arrived"})]
    try:
        inner = decide(state, cfg, cmd.inner, now)
    except Refusal as refusal:
        return [Event(ev.CLOUD_COMMAND_REJECTED,
                      {**base, "reason": refusal.code, "detail": refusal.detail})]
    refs = {key: getattr(cmd.inner, key) for key in ("ticket_id", "appointment_id", "notice_id")
            if getattr(cmd.inner, key, None) is not None}
    return inner + [Event(ev.CLOUD_COMMAND_APPLIED, {**base, **refs})]


def _check_in(state: HallState, cfg: HallConfig, cmd: c.CheckIn, now: float) -> list[Event]:
    appointment, inside = appointments.find_for_check_in(state, cfg, cmd, now)
    if not inside and not appointments.wants_walk_in(cfg):
        raise appointments.refuse_outside(cfg, appointment)
    ticket = c.IssueTicket(
        cmd.ticket_id, appointment.category, "appointment" if inside else cmd.channel,
        cfg.appointments.priority_group if inside else None, appointment.identity_hash,
    )
    issued = _issue(state, cfg, ticket, now, booked=inside)
    return appointments.check_in_events(cfg, appointment, inside, cmd.ticket_id, now, issued)


def _issue(state: HallState, cfg: HallConfig, cmd: c.IssueTicket, now: float,
           booked: bool = False) -> list[Event]:
    """`booked`: an appointment's ticket, outside the walk-in quota and per-person limit
    (the booking was the limit), though never past the 999 numbers of a day."""
    category = cfg.categories.get(cmd.category)
    if category is None:
        raise invalid("unknown_category", f"no business category {cmd.category!r}")
    if cmd.channel not in CHANNELS:
        raise invalid("unknown_channel", f"channel must be one of {', '.join(CHANNELS)}")
    if cmd.priority is not None and cfg.priority_rank(cmd.priority) is None:
        names = ", ".join(p.name for p in cfg.priorities) or "(none configured)"
        raise invalid("unknown_priority", f"priority group must be one of {names}")
    if cmd.ticket_id in state.tickets:
        raise Refusal("duplicate_ticket_id", f"ticket id {cmd.ticket_id} exists already")
    if cfg.day.enforce_hours and not within_hours(now, cfg.day):
        raise Refusal(
            "hall_closed",
            f"tickets are issued from {cfg.day.opens:%H:%M} to {closes_text(cfg.day)}",
        )
    day = business_day(now, cfg.day)
    # That day's counters, not only the latest day's: the clock may have stepped back.
    issued = state.issued_by_day.get(day, {}).get(category.prefix, 0)
    if issued >= 999:
        raise Refusal("numbers_exhausted", f"all 999 numbers of {category.name} are used today")
    # The quota is of walk-in tickets: booked ones (checked in inside their slot) are
    # counted apart by the state and never use it up, whenever they came.
    walk_ins = issued - state.booked_by_day.get(day, {}).get(category.prefix, 0)
    if walk_ins >= category.daily_quota and not booked:
        raise Refusal(
            "quota_reached",
            f"today's {category.daily_quota} tickets for {category.name} are all issued",
        )
    if cmd.identity_hash and category.per_person_daily_limit and not booked:
        taken = state.person_by_day.get(day, {}).get((cmd.identity_hash, category.prefix), 0)
        if taken >= category.per_person_daily_limit:
            raise Refusal(
                "person_limit",
                f"one person may take {category.per_person_daily_limit} tickets a day "
                f"for {category.name}",
            )
    data: dict[str, object] = {
        "ticket_id": cmd.ticket_id,
        "number": f"{category.prefix}{issued + 1:03d}",
        "category": category.prefix,
        "channel": cmd.channel,
        "business_day": day,
        "seq_in_day": issued + 1,
    }
    if cmd.priority is not None:
        data["priority"] = cmd.priority
    if cmd.identity_hash is not None:
        data["identity_hash"] = cmd.identity_hash
    return [Event(ev.TICKET_ISSUED, data)]


def _current(state: HallState, window: int) -> Ticket:
    current = state.window(window).current
    if current is None:
        raise Refusal("no_current_ticket", f"window {window} is serving no ticket")
    return state.tickets[current]


def _require_open(state: HallState, window: int) -> None:
    win = state.window(window)
    if win.status is WindowStatus.PAUSED:
        raise Refusal("window_paused", f"window {window} is paused ({win.pause_reason})")
    if win.status is WindowStatus.CLOSED:
        raise Refusal("window_closed", f"window {window} is closed; open it first")


def _ticket_event(kind: str, t: Ticket, window: int, **extra: object) -> Event:
    data: dict[str, object] = {"ticket_id": t.id, "number": t.number, "window": window}
    data.update({k: v for k, v in extra.items() if v is not None})
    return Event(kind, data)


def _finish_current(state: HallState, window: int) -> list[Event]:
    """A clerk's next call ends the service in progress, as at every counter."""
    current = state.window(window).current
    if current is None:
        return []
    return [_ticket_event(ev.TICKET_COMPLETED, state.tickets[current], window)]


def _call_next(state: HallState, cfg: HallConfig, cmd: c.CallNext, now: float) -> list[Event]:
    _require_open(state, cmd.window)
    out = _finish_current(state, cmd.window)
    choice = choose(state, cfg, cmd.window, now)
    if choice is not None:
        out.append(
            _ticket_event(ev.TICKET_CALLED, choice.ticket, cmd.window, rule=choice.rule,
                          category=choice.ticket.category, credits=choice.credits)
        )
    return out


def _recall(state: HallState, cfg: HallConfig, cmd: c.Recall, now: float) -> list[Event]:
    ticket = _current(state, cmd.window)
    if ticket.recalls >= cfg.queue.recall_limit:
        raise Refusal(
            "recall_limit",
            f"{ticket.number} was recalled {ticket.recalls} times; mark it a no-show",
        )
    return [_ticket_event(ev.TICKET_RECALLED, ticket, cmd.window, count=ticket.recalls + 1)]


def _no_show(state: HallState, cfg: HallConfig, cmd: c.NoShow, now: float) -> list[Event]:
    return [_ticket_event(ev.TICKET_NO_SHOW, _current(state, cmd.window), cmd.window)]


def _check_code(name: str, value: str | None) -> None:
    if value is not None and not _CODE.fullmatch(value):
        raise invalid(
            f"bad_{name}",
            f"{name} must be 1-{MAX_CODE_LEN} letters, digits or _.:/-",
        )


def _complete(state: HallState, cfg: HallConfig, cmd: c.Complete, now: float) -> list[Event]:
    _check_code("case_no", cmd.case_no)
    _check_code("item_code", cmd.item_code)
    company = None
    if cmd.credit_code is not None:
        try:
            company = credit_code(cmd.credit_code)
        except IdentityError as exc:
            raise invalid("bad_credit_code", str(exc)) from None
    ticket = _current(state, cmd.window)
    return [_ticket_event(ev.TICKET_COMPLETED, ticket, cmd.window,
                          case_no=cmd.case_no, item_code=cmd.item_code or ticket.item_code,
                          credit_code=company)]


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise invalid("reason_required", "give a reason")
    if len(reason) > MAX_REASON_LEN:
        raise invalid("reason_too_long", f"a reason has at most {MAX_REASON_LEN} characters")
    return scrub(reason)  # public: on the window's screen, the stream and the cloud


def _transfer(state: HallState, cfg: HallConfig, cmd: c.Transfer, now: float) -> list[Event]:
    if (cmd.to_category is None) == (cmd.to_window is None):
        raise invalid("bad_transfer", "give exactly one of to_category and to_window")
    reason = _reason(cmd.reason)
    ticket = _current(state, cmd.window)
    if cmd.to_category is not None:
        target = cfg.categories.get(cmd.to_category)
        if target is None:
            raise invalid("unknown_category", f"no business category {cmd.to_category!r}")
        if target.prefix == ticket.category:
            raise invalid("bad_transfer", f"{ticket.number} is already in {target.name}")
        landing = target.transfer_landing
    else:
        assert cmd.to_window is not None
        if cmd.to_window not in cfg.windows:
            raise invalid("unknown_window", f"no window {cmd.to_window} in this hall")
        if cmd.to_window == cmd.window:
            raise invalid("bad_transfer", "a ticket cannot be transferred to its own window")
        landing = cfg.categories[ticket.category].transfer_landing
    return [_ticket_event(ev.TICKET_TRANSFERRED, ticket, cmd.window,
                          to_category=cmd.to_category, to_window=cmd.to_window,
                          reason=reason, landing=landing.value)]


def _suspend(state: HallState, cfg: HallConfig, cmd: c.Suspend, now: float) -> list[Event]:
    ticket = _current(state, cmd.window)
    return [_ticket_event(ev.TICKET_SUSPENDED, ticket, cmd.window,
                          return_at=now + cfg.queue.suspend_return_min * 60.0)]


def _call_back(state: HallState, cfg: HallConfig, cmd: c.CallBack, now: float) -> list[Event]:
    _require_open(state, cmd.window)
    ticket = state.tickets.get(cmd.ticket_id)
    if ticket is None:
        raise not_found("ticket", f"no ticket {cmd.ticket_id}")
    if ticket.status is not TicketStatus.SUSPENDED:
        raise Refusal("not_suspended", f"{ticket.number} is {ticket.status.value}, not suspended")
    # Call-back bypasses dispatch but keeps its reach: the window holding the ticket (the
    # one that suspended it), or a window serving its category, which could call it next.
    if ticket.window != cmd.window and ticket.category not in cfg.windows[cmd.window].weights:
        raise Refusal(
            "wrong_window",
            f"{ticket.number} was suspended at window {ticket.window}; window {cmd.window} "
            f"does not serve {ticket.category}",
        )
    out = _finish_current(state, cmd.window)
    out.append(_ticket_event(ev.TICKET_CALLED_BACK, ticket, cmd.window))
    return out


def _open(state: HallState, cfg: HallConfig, cmd: c.OpenWindow, now: float) -> list[Event]:
    if state.window(cmd.window).status is WindowStatus.OPEN:
        return []
    return [Event(ev.WINDOW_OPENED, {"window": cmd.window})]


def _pause(state: HallState, cfg: HallConfig, cmd: c.PauseWindow, now: float) -> list[Event]:
    reason = _reason(cmd.reason)
    if state.window(cmd.window).status is WindowStatus.CLOSED:
        raise Refusal("window_closed", f"window {cmd.window} is closed")
    return [Event(ev.WINDOW_PAUSED, {"window": cmd.window, "reason": reason})]


def _resume(state: HallState, cfg: HallConfig, cmd: c.ResumeWindow, now: float) -> list[Event]:
    if state.window(cmd.window).status is not WindowStatus.PAUSED:
        raise Refusal("not_paused", f"window {cmd.window} is not paused")
    return [Event(ev.WINDOW_RESUMED, {"window": cmd.window})]


def _close(state: HallState, cfg: HallConfig, cmd: c.CloseWindow, now: float) -> list[Event]:
    win = state.window(cmd.window)
    if win.current is not None:
        number = state.tickets[win.current].number
        raise Refusal(
            "window_busy",
            f"window {cmd.window} is serving {number}: complete or transfer it first",
        )
    if win.status is WindowStatus.CLOSED:
        return []
    return [Event(ev.WINDOW_CLOSED, {"window": cmd.window})]


_WINDOW_HANDLERS: dict[type, Decider] = {
    c.CallNext: _call_next,
    c.Recall: _recall,
    c.NoShow: _no_show,
    c.Complete: _complete,
    c.Transfer: _transfer,
    c.Suspend: _suspend,
    c.CallBack: _call_back,
    c.OpenWindow: _open,
    c.PauseWindow: _pause,
    c.ResumeWindow: _resume,
    c.CloseWindow: _close,
}


# Last, so that the modules find register_command and register_tick defined: whoever
# uses the engine gets every module's rules, whatever it imported first.
from controller.core import modules  # noqa: E402,F401
