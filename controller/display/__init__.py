"""Display content for the hall wall and window screens, composed once (see compose.py)."""

from controller.display.compose import (
    current_calls,
    hall_display,
    register_advice,
    window_display,
)

__all__ = ["current_calls", "hall_display", "register_advice", "window_display"]
