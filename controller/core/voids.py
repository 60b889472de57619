"""Voiding a ticket whose paper never came out (`VoidTicket`, `ticket.voided`).

Deployed systems that counted unprinted tickets called people who never existed. When the
kiosk printer fails (paper out, offline, garbled status), the device layer voids the
ticket by an event: it leaves the queue and is never called, and its number is not reused
(the day's counter is untouched, so the next ticket gets the next number).

The ticket's status becomes `expired` (the closest existing status: out of the queue, not
served); `state.extra["voided"]` keeps ticket id -> reason, so views can tell the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.config.model import HallConfig
from controller.core import engine
from controller.core.commands import ModuleCommand
from controller.core.errors import Refusal, not_found
from controller.core.events import Event
from controller.core.state import HallState, TicketStatus, register_event

TICKET_VOIDED = "ticket.voided"
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class VoidTicket(ModuleCommand):
    ticket_id: str
    reason: str


def _decide(state: HallState, cfg: HallConfig, cmd: VoidTicket, now: float) -> list[Event]:
    ticket = state.tickets.get(cmd.ticket_id)
    if ticket is None:
        raise not_found("ticket", f"no ticket {cmd.ticket_id}")
    if ticket.status is not TicketStatus.WAITING:
        # Called already (the print failed slower than a window called): the clerk sees
        # nobody come and marks a no-show; voiding now would pull it from under the window.
        raise Refusal("not_waiting", f"{ticket.number} is {ticket.status.value}, not waiting")
    reason = (cmd.reason.strip() or "print failed")[:MAX_REASON]
    return [Event(TICKET_VOIDED, {"ticket_id": ticket.id, "number": ticket.number,
                                  "category": ticket.category, "reason": reason})]


def _apply(state: HallState, d: dict[str, Any], at: float) -> None:
    ticket = state.tickets[d["ticket_id"]]
    if state.waiting_in(ticket.category).pop(ticket.id, None) is not None and ticket.priority:
        state.priority_waiting[(ticket.category, ticket.priority)] -= 1
    state.suspended.pop(ticket.id, None)
    ticket.status = TicketStatus.EXPIRED
    ticket.finished_at = at
    ticket.history.append({"at": at, "event": "voided", "reason": d.get("reason")})
    state.extra.setdefault("voided", {})[ticket.id] = d.get("reason")


engine.register_command(VoidTicket, _decide)
register_event(TICKET_VOIDED, _apply)
