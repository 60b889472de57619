"""What the API shows of the state: plain JSON-ready dicts, free of personal data.

Pure functions of the state, so an idempotent replay can store exactly what was answered.
"""

from __future__ import annotations

import math
from typing import Any

from controller.config.model import HallConfig
from controller.core.clock import iso
from controller.core.state import HallState, Ticket, TicketStatus, WindowStatus


def waiting_ahead(state: HallState, cfg: HallConfig, ticket: Ticket) -> int:
    """People in the same category who will be called before this ticket, as things stand."""
    if ticket.status is not TicketStatus.WAITING:
        return 0
    mine = cfg.priority_rank(ticket.priority)
    if ticket.order == state.next_order - 1 and ticket.queue_key == (1, ticket.issued_at,
                                                                       ticket.order):
        # The ticket just issued (the answer to every kiosk): everyone of its category
        # already waiting is ahead of a normal ticket; of a priority ticket, those of its
        # own or a better group. Counted, not scanned: this runs on every issue.
        if mine is None:
            return len(state.waiting.get(ticket.category, {})) - 1
        return sum(n for (prefix, group), n in state.priority_waiting.items()
                   if prefix == ticket.category and (cfg.priority_rank(group) or 0) <= mine) - 1
    return waiting_ahead_scan(state, cfg, ticket)


def waiting_ahead_scan(state: HallState, cfg: HallConfig, ticket: Ticket) -> int:
    """The full count, for any ticket in any position (GET /api/tickets/{id})."""
    mine = cfg.priority_rank(ticket.priority)
    ahead = 0
    for other in state.waiting.get(ticket.category, {}).values():
        if other is ticket:
            continue
        rank = cfg.priority_rank(other.priority)
        if mine is None:
            before = rank is not None or other.queue_key < ticket.queue_key
        else:
            before = rank is not None and (rank, other.queue_key) < (mine, ticket.queue_key)
        ahead += before
    return ahead


def service_minutes(state: HallState, cfg: HallConfig, prefix: str) -> float:
    return state.service_min.get(prefix, cfg.categories[prefix].default_service_min)


def estimated_wait_min(state: HallState, cfg: HallConfig, prefix: str, ahead: int) -> int:
    """Minutes until called: those ahead shared across the open windows serving it.

    An open window that also serves other categories with people waiting gives this one
    only its weight's share (ratio calling splits its clerk between them). Counting it as
    a whole lane made the promise optimistic by about the whole error: on the sample day
    the mean absolute error fell from 69 to 42 min (demo hall) and from 14 to 8 min (20
    windows), measured by `hallctl replay` (docs/flow.md). With no window open, every
    window serving the category counts, as before."""
    serving = cfg.windows_serving(prefix)
    lanes = 0.0
    for n in serving:
        if state.window(n).status is WindowStatus.OPEN:
            weights = cfg.windows[n].weights
            busy = sum(w for p, w in weights.items() if p == prefix or state.waiting.get(p))
            lanes += weights[prefix] / busy
    lanes = lanes or len(serving) or 1
    return math.ceil(ahead / lanes * service_minutes(state, cfg, prefix))


def ticket_view(state: HallState, cfg: HallConfig, ticket: Ticket, history: bool = False
                ) -> dict[str, Any]:
    ahead = waiting_ahead(state, cfg, ticket)
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "category": ticket.category,
        "category_name": cfg.categories[ticket.category].name,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "status": ticket.status.value,
        "business_day": ticket.business_day,
        "issued_at": iso(ticket.issued_at, cfg.day),
        "window": ticket.window if ticket.status is not TicketStatus.WAITING else None,
        "directed_window": ticket.directed_window,
        "recalls": ticket.recalls,
        "waiting_ahead": ahead,
        "estimated_wait_min": (
            estimated_wait_min(state, cfg, ticket.category, ahead)
            if ticket.status is TicketStatus.WAITING else 0
        ),
        "case_no": ticket.case_no,
        "item_code": ticket.item_code,
        "credit_code": ticket.credit_code,
    }
    if history:
        view["history"] = [
            {**entry, "at": iso(entry["at"], cfg.day)} for entry in ticket.history
        ]
    return view


def window_view(state: HallState, cfg: HallConfig, number: int) -> dict[str, Any]:
    win = state.window(number)
    conf = cfg.windows[number]
    current = state.tickets.get(win.current) if win.current else None
    return {
        "number": number,
        "name": conf.name,
        "post": conf.post.value,
        "categories": list(conf.weights),
        "weights": dict(conf.weights),
        "state": win.status.value,
        "pause_reason": win.pause_reason,
        "current": ticket_view(state, cfg, current) if current else None,
        "served": win.served,
    }


def queue_view(state: HallState, cfg: HallConfig) -> dict[str, Any]:
    categories = []
    for prefix, cat in cfg.categories.items():
        waiting = sorted(
            state.waiting.get(prefix, {}).values(),
            key=lambda t: (cfg.priority_rank(t.priority) is None,
                           cfg.priority_rank(t.priority) or 0, t.queue_key),
        )
        categories.append({
            "prefix": prefix,
            "name": cat.name,
            "issued_today": state.issued_today.get(prefix, 0),
            # What the quota counts: booked tickets (checked in inside their slot) are not.
            "walk_ins_today": state.issued_today.get(prefix, 0)
            - state.booked_by_day.get(state.day, {}).get(prefix, 0),
            "daily_quota": cat.daily_quota,
            "service_level_min": cat.service_level_min,
            "windows": cfg.windows_serving(prefix),
            "waiting_count": len(waiting),
            "waiting": [
                {
                    "id": t.id,
                    "number": t.number,
                    "priority": t.priority,
                    "issued_at": iso(t.issued_at, cfg.day),
                    "directed_window": t.directed_window,
                }
                for t in waiting
            ],
        })
    return {"business_day": state.day or None, "categories": categories}
