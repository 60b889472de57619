"""Which waiting ticket a window gets on call-next: a pipeline of rules, then FIFO.

Each rule looks at the window's candidates and either picks one or passes to the next.
The pipeline is configured (`queue.dispatch`); FIFO by queue position is always the
last resort. docs/dispatch.md walks through examples. Deterministic: the same state and
time always give the same ticket, so a replay of the log reproduces every decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.config.model import HallConfig
from controller.core.state import HallState, Ticket


@dataclass(frozen=True, slots=True)
class Choice:
    ticket: Ticket
    rule: str
    credits: dict[str, int] | None = None  # the window's ratio credits after this call


def candidates(state: HallState, cfg: HallConfig, window: int) -> list[Ticket]:
    """Waiting tickets this window may call: its categories, or transferred to it by name."""
    weights = cfg.windows[window].weights
    found: list[Ticket] = []
    for prefix, queue in state.waiting.items():
        served = prefix in weights
        for ticket in queue.values():
            if ticket.directed_window == window or (served and ticket.directed_window is None):
                found.append(ticket)
    return found


def _position(ticket: Ticket) -> tuple[int, float, int]:
    return ticket.queue_key


def _priority(
    state: HallState, cfg: HallConfig, window: int, cands: list[Ticket], now: float
) -> Choice | None:
    ranked = [(cfg.priority_rank(t.priority), t) for t in cands if t.priority is not None]
    ranked = [(rank, t) for rank, t in ranked if rank is not None]
    if not ranked:
        return None
    _, best = min(ranked, key=lambda rt: (rt[0], _position(rt[1])))
    return Choice(best, "priority")


def _directed(
    state: HallState, cfg: HallConfig, window: int, cands: list[Ticket], now: float
) -> Choice | None:
    mine = [t for t in cands if t.directed_window == window]
    return Choice(min(mine, key=_position), "directed") if mine else None


def _overdue(
    state: HallState, cfg: HallConfig, window: int, cands: list[Ticket], now: float
) -> Choice | None:
    late = [
        (now - t.queued_at - cfg.categories[t.category].service_level_min * 60.0, t)
        for t in cands
    ]
    late = [(over, t) for over, t in late if over > 0]
    if not late:
        return None
    _, best = min(late, key=lambda ot: (-ot[0], _position(ot[1])))
    return Choice(best, "overdue")


def _ratio(
    state: HallState, cfg: HallConfig, window: int, cands: list[Ticket], now: float
) -> Choice | None:
    """Smooth weighted round-robin over the window's categories that have someone waiting.

    Credits persist per window (in the `ticket.called` event), so weights 2:1 give A, B, A,
    A, B, A ... for as long as both queues are non-empty, across restarts too.
    """
    weights = cfg.windows[window].weights
    by_category: dict[str, list[Ticket]] = {}
    for t in cands:
        if t.directed_window is None and t.category in weights:
            by_category.setdefault(t.category, []).append(t)
    eligible = [p for p in weights if p in by_category]
    if not eligible:
        return None
    credits = dict(state.window(window).credits)
    total = sum(weights[p] for p in eligible)
    for p in eligible:
        credits[p] = credits.get(p, 0) + weights[p]
    # max() keeps the first of equals, so ties go to the category configured first.
    chosen = max(eligible, key=lambda p: credits[p])
    credits[chosen] -= total
    return Choice(min(by_category[chosen], key=_position), "ratio", credits)


Rule = Callable[[HallState, HallConfig, int, list[Ticket], float], Choice | None]

RULES: dict[str, Rule] = {
    "priority": _priority,
    "directed": _directed,
    "overdue": _overdue,
    "ratio": _ratio,
}


def choose(state: HallState, cfg: HallConfig, window: int, now: float) -> Choice | None:
    cands = candidates(state, cfg, window)
    if not cands:
        return None
    for name in cfg.queue.dispatch:
        choice = RULES[name](state, cfg, window, cands, now)
        if choice is not None:
            return choice
    return Choice(min(cands, key=_position), "fifo")
