"""What the hall wall and each window screen show, composed once from the hall state.

Pure functions of (state, config, now): the web pages (/hall, /window/N) and the LED
bridges take their content from here, so a screen and a page never disagree. Everything
returned is public: ticket numbers, window numbers and names, counts. No ticket id, no
person. Each view also carries `lines`, the same content as plain Chinese text lines for
devices that only print text (LED strips, window screens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.config.model import HallConfig
from controller.core.clock import iso
from controller.core.notices import active
from controller.core.state import HallState, Ticket, TicketStatus, WindowStatus
from controller.core.views import estimated_wait_min
from controller.voice.text import Announcement, announcement

MAX_CALLS = 8
IDLE_GREETING = "热情为您服务"
PAUSED = "暂停服务"
CLOSED = "暂停服务"  # a closed window's screen reads the same as a paused one, without reason
CALL_KINDS = ("called", "recalled", "called_back")

# Off-peak advice (错时办事, 5.2.6) comes from the visitor-flow module once it exists. It
# registers one pure function here; until then the hall wall has no advice line.
AdviceFn = Callable[[HallState, HallConfig, float], "str | None"]
_advice: list[AdviceFn] = []


def register_advice(fn: AdviceFn) -> None:
    """Lets another module put one line of off-peak advice on the hall wall."""
    _advice.append(fn)


def last_call(ticket: Ticket) -> tuple[str, float]:
    """The kind and time of the latest call of a ticket now at a window."""
    for entry in reversed(ticket.history):
        if entry["event"] in CALL_KINDS:
            return str(entry["event"]), float(entry["at"])
    return "called", ticket.called_at or 0.0


def call_announcement(cfg: HallConfig, kind: str, number: str, window: int) -> Announcement:
    v = cfg.voice
    return announcement(kind, number, window, v.template, v.recall_template, dict(v.letters))


def current_calls(state: HallState, cfg: HallConfig, limit: int = MAX_CALLS
                  ) -> list[dict[str, Any]]:
    """The tickets now at a window, the most recently called (or recalled) first."""
    calls: list[dict[str, Any]] = []
    for number in cfg.windows:
        win = state.windows.get(number)
        if win is None or win.current is None:
            continue
        ticket = state.tickets.get(win.current)
        if ticket is None or ticket.status is not TicketStatus.CALLED:
            continue
        kind, at = last_call(ticket)
        a = call_announcement(cfg, kind, ticket.number, number)
        calls.append({
            "number": ticket.number,
            "window": number,
            "window_name": cfg.windows[number].name,
            "category": ticket.category,
            "category_name": cfg.categories[ticket.category].name,
            "kind": kind,
            "at": iso(at, cfg.day),
            "at_ts": at,
            "text": a.text,
            "speech": a.speech,
        })
    calls.sort(key=lambda c: c["at_ts"], reverse=True)
    return calls[:limit]


def hall_display(state: HallState, cfg: HallConfig, now: float) -> dict[str, Any]:
    """The hall wall (大厅LED滚动屏 and /hall)."""
    calls = current_calls(state, cfg)
    waiting = []
    for prefix, cat in cfg.categories.items():
        count = len(state.waiting.get(prefix, {}))
        serving = cfg.windows_serving(prefix)
        waiting.append({
            "prefix": prefix,
            "name": cat.name,
            "waiting": count,
            "estimated_wait_min": estimated_wait_min(state, cfg, prefix, count),
            "windows": serving,
            "open_windows": [n for n in serving
                             if state.window(n).status is WindowStatus.OPEN],
        })
    notices = [{"id": n["id"], "text": n["text"]} for n in active(state, now)]
    advice = None
    for fn in _advice:
        advice = fn(state, cfg, now)
        if advice:
            break
    lines = [c["text"] for c in calls]
    lines += [f"{w['name']}({w['prefix']}) 等候{w['waiting']}人" for w in waiting]
    lines += [n["text"] for n in notices]
    if advice:
        lines.append(advice)
    return {
        "hall_name": cfg.hall_name,
        "business_day": state.day or None,
        "now": iso(now, cfg.day),
        "last_seq": state.last_seq,
        "calls": calls,
        "waiting": waiting,
        "notices": notices,
        "advice": advice,
        "voice": {"backend": cfg.voice.backend, "repeat": cfg.voice.repeat,
                  "gap_ms": cfg.voice.gap_ms},
        "lines": lines,
    }


def window_display(state: HallState, cfg: HallConfig, number: int) -> dict[str, Any]:
    """The screen above one window (窗口屏 and /window/N)."""
    conf = cfg.windows[number]
    win = state.window(number)
    categories = [{"prefix": p, "name": cfg.categories[p].name} for p in conf.weights]
    current = None
    if win.current and win.current in state.tickets:
        ticket = state.tickets[win.current]
        kind, at = last_call(ticket)
        current = {"number": ticket.number, "category": ticket.category,
                   "category_name": cfg.categories[ticket.category].name,
                   "kind": kind, "called_at": iso(at, cfg.day), "called_at_ts": at}
    title = f"{number}号窗口"
    if win.status is WindowStatus.PAUSED:
        mode = "paused"
        lines = [title, PAUSED] + ([win.pause_reason] if win.pause_reason else [])
    elif win.status is WindowStatus.CLOSED:
        mode = "closed"
        lines = [title, CLOSED]
    elif current is not None:
        mode = "serving"
        lines = [title, f"请{current['number']}号办理"]
    else:
        mode = "idle"
        lines = [title, IDLE_GREETING, " ".join(c["name"] for c in categories)]
    return {
        "number": number,
        "name": conf.name,
        "state": win.status.value,
        "mode": mode,  # serving, idle, paused, closed: what the screen is showing
        "pause_reason": win.pause_reason if win.status is WindowStatus.PAUSED else None,
        "current": current,
        "categories": categories,
        "greeting": IDLE_GREETING,
        "last_seq": state.last_seq,
        "lines": lines,
    }
