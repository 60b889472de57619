"""Congestion response (8.2): rules checked on every Tick, alerts kept as events.

Three rules, thresholds in `[flow]` (docs/flow.md):

- `waiting`: more than `max_waiting` people waiting in the hall;
- `service_level:<prefix>`: the longest wait of a category over its `service_level_min`;
- `arrivals:<prefix>`: tickets taken in the last `arrival_window_min` above
  `capacity_factor` x what the open windows serving the category can handle (each open
  window gives the category its weight's share of one clerk, one ticket per recent service
  time), with at least `min_arrivals` tickets so a quiet hall with one window does not fire.

A rule raises one `alert.raised` while its condition holds (never a second for the same
key) and `alert.cleared` when it ends, with some hysteresis so an alert does not flap on
the threshold. Supervisors acknowledge and resolve alerts (commands registered below);
a resolved alert whose condition still holds stays latched until it clears, so resolving
does not make it fire again at the next tick.

Each alert carries a suggestion: which closed or paused windows to open, for which
categories, and how many Table 1 asks for given the last half hour's 5-minute peak.
Pure: state and time in, events out; ids are numbered from the log so a replay agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.config.model import HallConfig, Post
from controller.core import engine
from controller.core.clock import business_day, iso
from controller.core.commands import ModuleCommand
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.staffing import recommend
from controller.core.state import HallState, WindowStatus, register_event
from controller.core.views import service_minutes

ALERT_RAISED = "alert.raised"
ALERT_CLEARED = "alert.cleared"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_RESOLVED = "alert.resolved"

CLEAR_RATIO = 0.8  # a count or rate must fall below 80 % of its threshold to clear
MAX_NOTE = 200


@dataclass(frozen=True, slots=True)
class AcknowledgeAlert(ModuleCommand):
    alert_id: str
    by: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ResolveAlert(ModuleCommand):
    alert_id: str
    by: str | None = None
    note: str | None = None


def module_state(state: HallState) -> dict[str, Any]:
    found = state.extra.get("alerts")
    if found is None:
        found = state.extra["alerts"] = {"alerts": {}, "active": {}, "count": 0}
    return found


# ---- the rules ------------------------------------------------------------------------

def _arrivals(state: HallState, since: float) -> dict[str, int]:
    """Tickets taken since `since`, per (current) category. Walks back from the newest
    ticket and stops at the first older one: the cost is the recent tickets, not the log."""
    out: dict[str, int] = {}
    for t in reversed(state.tickets.values()):
        if t.issued_at < since:
            break
        out[t.category] = out.get(t.category, 0) + 1
    return out


def _recent_peak(state: HallState, now: float, span: float = 1800.0) -> int:
    times: list[float] = []
    for ticket in reversed(state.tickets.values()):
        if ticket.issued_at < now - span:
            break
        times.append(ticket.issued_at)
    times.reverse()
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 300.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def capacity_per_min(state: HallState, cfg: HallConfig, prefix: str) -> float:
    """Tickets per minute the open windows can serve in this category."""
    minutes = service_minutes(state, cfg, prefix) or 1.0
    share = 0.0
    for number in cfg.windows_serving(prefix):
        if state.window(number).status is WindowStatus.OPEN:
            weights = cfg.windows[number].weights
            share += weights[prefix] / sum(weights.values())
    return share / minutes


def _conditions(state: HallState, cfg: HallConfig, now: float,
                active: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every rule key whose condition holds now, with its figures. A key already active
    is kept until it falls below its clearing level."""
    f = cfg.flow
    found: dict[str, dict[str, Any]] = {}
    if state.day != business_day(now, cfg.day):
        return found  # a new day: yesterday's queue is expiring, everything clears
    if f.max_waiting:
        waiting = sum(len(q) for q in state.waiting.values())
        level = f.max_waiting * (CLEAR_RATIO if "waiting" in active else 1.0)
        if waiting > level:
            by_cat = {p: len(q) for p, q in state.waiting.items() if q}
            worst = sorted(by_cat, key=lambda p: -by_cat[p])[:3]
            found["waiting"] = {"rule": "waiting", "category": None, "value": waiting,
                                "threshold": f.max_waiting, "categories": worst}
    if f.over_service_level:
        for prefix, queue in state.waiting.items():
            if not queue or prefix not in cfg.categories:
                continue
            oldest = min(t.queued_at for t in queue.values())
            waited = (now - oldest) / 60.0
            if waited > cfg.categories[prefix].service_level_min:
                found[f"service_level:{prefix}"] = {
                    "rule": "service_level", "category": prefix, "value": round(waited, 1),
                    "threshold": cfg.categories[prefix].service_level_min,
                    "categories": [prefix]}
    window_min = f.arrival_window_min
    recent = _arrivals(state, now - window_min * 60.0) if f.min_arrivals else {}
    for prefix, n in recent.items():
        if prefix not in cfg.categories:
            continue
        key = f"arrivals:{prefix}"
        rate = n / window_min
        capacity = capacity_per_min(state, cfg, prefix) * f.capacity_factor
        ratio = CLEAR_RATIO if key in active else 1.0
        if n >= f.min_arrivals * ratio and rate > capacity * ratio:
            found[key] = {"rule": "arrivals", "category": prefix,
                          "value": round(rate, 2), "threshold": round(capacity, 2),
                          "categories": [prefix]}
    return found


def suggestion(state: HallState, cfg: HallConfig, categories: list[str], now: float
               ) -> dict[str, Any]:
    """Windows not open that serve these categories, best first (the larger the share of
    their weight for them), as many as Table 1's intake shortfall (at least one)."""
    peak = _recent_peak(state, now)
    table = recommend(peak, cfg.flow.self_service_computers)
    open_intake = sum(1 for n, w in cfg.windows.items()
                      if w.post is Post.INTAKE and state.window(n).status is WindowStatus.OPEN)
    wanted = set(categories)
    ranked = []
    for number, w in cfg.windows.items():
        if state.window(number).status is WindowStatus.OPEN:
            continue
        mine = sum(v for p, v in w.weights.items() if p in wanted)
        if mine:
            ranked.append((-mine / sum(w.weights.values()), number))
    ranked.sort()
    count = max(1, table.intake - open_intake)
    chosen = [n for _, n in ranked[:count]]
    names = "、".join(cfg.categories[p].name for p in categories if p in cfg.categories)
    if chosen:
        text = ("建议开放" + "、".join(f"{n}号窗口" for n in chosen)
                + (f"办理{names}" if names else ""))
    else:
        text = f"没有可开放的窗口办理{names}：请增派人员或引导错时办理"
    return {
        "open_windows": [{"window": n, "name": cfg.windows[n].name,
                          "state": state.window(n).status.value,
                          "categories": [p for p in cfg.windows[n].weights if p in wanted]}
                         for n in chosen],
        "categories": categories,
        "peak_5min": peak,
        "recommended_intake": table.intake,
        "open_intake": open_intake,
        "text": text,
    }


def tick(state: HallState, cfg: HallConfig, now: float) -> list[Event]:
    # Read only: a decision never changes the state (a replay of the log must give the
    # same state), so no module_state() here, which would create the entry.
    m = state.extra.get("alerts") or {"active": {}, "count": 0}
    active: dict[str, str] = m["active"]
    holding = _conditions(state, cfg, now, active)
    out: list[Event] = []
    number = m["count"]
    for key, cond in holding.items():
        if key in active:
            continue
        number += 1
        out.append(Event(ALERT_RAISED, {
            "alert_id": f"alert-{number}", "key": key, "rule": cond["rule"],
            "category": cond["category"], "value": cond["value"],
            "threshold": cond["threshold"],
            "suggestion": suggestion(state, cfg, cond["categories"], now),
        }))
    for key, alert_id in active.items():
        if key not in holding:
            out.append(Event(ALERT_CLEARED, {"alert_id": alert_id, "key": key}))
    return out


# ---- supervisors' commands ------------------------------------------------------------

def _note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise invalid("note_too_long", f"a note has at most {MAX_NOTE} characters")
    return note or None


def _find(state: HallState, alert_id: str) -> dict[str, Any]:
    alert = (state.extra.get("alerts") or {}).get("alerts", {}).get(alert_id)
    if alert is None:
        raise not_found("alert", f"no alert {alert_id}")
    return alert  # type: ignore[no-any-return]


def acknowledge(state: HallState, cfg: HallConfig, cmd: AcknowledgeAlert, now: float
                ) -> list[Event]:
    alert = _find(state, cmd.alert_id)
    if alert["state"] != "raised":
        raise Refusal("alert_not_open", f"{cmd.alert_id} is {alert['state']} already", 409)
    return [Event(ALERT_ACKNOWLEDGED, {"alert_id": cmd.alert_id, "by": cmd.by,
                                       "note": _note(cmd.note)})]


def resolve(state: HallState, cfg: HallConfig, cmd: ResolveAlert, now: float) -> list[Event]:
    alert = _find(state, cmd.alert_id)
    if alert["state"] == "resolved":
        raise Refusal("alert_not_open", f"{cmd.alert_id} is resolved already", 409)
    return [Event(ALERT_RESOLVED, {"alert_id": cmd.alert_id, "by": cmd.by,
                                   "note": _note(cmd.note)})]


# ---- applying the events --------------------------------------------------------------

def _raised(state: HallState, d: dict[str, Any], at: float) -> None:
    m = module_state(state)
    m["count"] += 1
    m["alerts"][d["alert_id"]] = {**d, "state": "raised", "active": True, "raised_at": at,
                                  "cleared_at": None, "acknowledged_at": None,
                                  "acknowledged_by": None, "resolved_at": None,
                                  "resolved_by": None, "note": None}
    m["active"][d["key"]] = d["alert_id"]


def _cleared(state: HallState, d: dict[str, Any], at: float) -> None:
    m = module_state(state)
    alert = m["alerts"].get(d["alert_id"])
    if alert is not None:
        alert["active"] = False
        alert["cleared_at"] = at
        m["active"].pop(alert["key"], None)


def _acknowledged(state: HallState, d: dict[str, Any], at: float) -> None:
    alert = module_state(state)["alerts"][d["alert_id"]]
    alert.update(state="acknowledged", acknowledged_at=at, acknowledged_by=d.get("by"))
    if d.get("note"):
        alert["note"] = d["note"]


def _resolved(state: HallState, d: dict[str, Any], at: float) -> None:
    alert = module_state(state)["alerts"][d["alert_id"]]
    alert.update(state="resolved", resolved_at=at, resolved_by=d.get("by"))
    if d.get("note"):
        alert["note"] = d["note"]


def alert_view(cfg: HallConfig, alert: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in alert.items()}
    for k in ("raised_at", "cleared_at", "acknowledged_at", "resolved_at"):
        view[k] = iso(alert[k], cfg.day)
    view["id"] = view.pop("alert_id")
    return view


def alerts(state: HallState) -> list[dict[str, Any]]:
    """Newest first."""
    return sorted(module_state(state)["alerts"].values(), key=lambda a: -a["raised_at"])


engine.register_tick(tick)
engine.register_command(AcknowledgeAlert, acknowledge)
engine.register_command(ResolveAlert, resolve)
register_event(ALERT_RAISED, _raised)
register_event(ALERT_CLEARED, _cleared)
register_event(ALERT_ACKNOWLEDGED, _acknowledged)
register_event(ALERT_RESOLVED, _resolved)
