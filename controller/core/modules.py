"""Imports every core module that registers its own commands, events or timers with the
engine (`engine.register_command`, `engine.register_tick`, `state.register_event`), so
that a state rebuilt from the log and a decision made by the writer know the same rules.

`controller.core.engine` imports this at its end: whoever uses the engine gets them all.
Add a module here with one import line.
"""

from __future__ import annotations
