"""Imports every core module that registers its own commands, events or timers with the
engine (`engine.register_command`, `engine.register_tick`, `state.register_event`), so
that a state rebuilt from the log and a decision made by the writer know the same rules.

`controller.core.engine` imports this at its end: whoever uses the engine gets them all.
Add a module here with one import line.
"""

from __future__ import annotations

from controller.core import alerts  # noqa: F401  congestion alerts (8.2)
from controller.core import catalog  # noqa: F401  the item catalog and its updates
from controller.core import cases  # noqa: F401  cases from intake to pickup (6.2)
from controller.core import complaints  # noqa: F401  complaints (7)
from controller.core import flow  # noqa: F401  people-counter readings
from controller.core import followups  # noqa: F401  follow-ups of bad ratings (8.3)
from controller.core import voids  # noqa: F401  tickets whose print failed
