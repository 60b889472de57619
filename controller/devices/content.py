"""What each device should be showing: small pure functions of the hall state.

The text comes from controller/display (the same composition the hall and window pages
use), so an LED screen and a page never disagree. Keypads show digits only: the current
number's digits and how many wait for the window's categories.
"""

from __future__ import annotations

from controller.config.model import DeviceEntry, HallConfig
from controller.core.state import HallState
from controller.display.compose import current_calls, window_display

STRIP_CALLS = 3

Content = tuple[object, ...]


def window_lines(state: HallState, cfg: HallConfig, window: int, lines: int) -> tuple[str, ...]:
    """A one-line screen shows the state line (请A001号办理 / 热情为您服务 / 暂停服务);
    a screen of two or more lines gets the window title first."""
    shown = window_display(state, cfg, window)["lines"]
    if lines <= 1:
        return (shown[1],)
    return tuple(shown[:lines])


def strip_lines(state: HallState, cfg: HallConfig) -> tuple[str, ...]:
    """The hall wall strip: the latest calls, newest first, on one scrolling line."""
    calls = current_calls(state, cfg, STRIP_CALLS)
    if not calls:
        return (f"欢迎光临{cfg.hall_name}",)
    return ("  ".join(c["text"] for c in calls),)


def keypad_digits(state: HallState, cfg: HallConfig, window: int) -> tuple[str | None, int]:
    win = state.window(window)
    number = state.tickets[win.current].number if win.current in state.tickets else None
    waiting = sum(len(state.waiting.get(p, {})) for p in cfg.windows[window].weights)
    return number, waiting


def content_for(state: HallState, cfg: HallConfig, d: DeviceEntry, lines: int = 1
                ) -> Content | None:
    """None for devices that show nothing (evaluators, printers, readers, counters)."""
    if d.kind == "display":
        if d.role == "hall_strip":
            return strip_lines(state, cfg)
        assert d.window is not None
        return window_lines(state, cfg, d.window, lines)
    if d.kind == "keypad" and d.window is not None:
        return keypad_digits(state, cfg, d.window)
    return None


def call_mark(state: HallState, cfg: HallConfig, d: DeviceEntry) -> object:
    """Changes with every call and recall a display shows, though its text may not: a
    recall sends the frames again (the screen flashes the number once more)."""
    if d.kind != "display":
        return None
    if d.role == "hall_strip":
        calls = current_calls(state, cfg, 1)
        if not calls:
            return None
        t = state.tickets[state.window(calls[0]["window"]).current or ""]
        return (t.id, t.recalls)
    if d.window is None:
        return None
    current = state.window(d.window).current
    serving = state.tickets.get(current) if current else None
    return (serving.id, serving.recalls) if serving is not None else None
