"""An in-memory hall for the rules of items, cases, follow-ups and complaints: the
writer's `execute` without a disk, on the demo hall (and its catalog)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from controller.config import DEFAULT_CONFIG, HallConfig, load_config
from controller.core import commands as c
from controller.core.engine import Outcome, execute
from controller.core.errors import Refusal
from controller.core.events import Event
from controller.core.state import HallState
from controller.store.ids import new_id

CFG: HallConfig = load_config(DEFAULT_CONFIG)
TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    """'2026-11-27 09:00' in the hall's time zone, as epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).timestamp()


@dataclass
class Hall:
    cfg: HallConfig = CFG
    now: float = at("2026-11-27 09:00")  # a Friday
    state: HallState = field(default_factory=HallState)
    events: list[Event] = field(default_factory=list)

    def run(self, cmd: object) -> Outcome:
        outcome = execute(self.state, self.cfg, cmd, self.now)  # type: ignore[arg-type]
        self.events += outcome.events
        return outcome

    def ok(self, cmd: object) -> list[Event]:
        outcome = self.run(cmd)
        assert outcome.refusal is None, (outcome.refusal.code, outcome.refusal.detail)
        return outcome.events

    def refused(self, cmd: object) -> Refusal:
        outcome = self.run(cmd)
        assert outcome.refusal is not None, "expected a refusal"
        return outcome.refusal

    def types(self, events: list[Event]) -> list[str]:
        return [e.type for e in events]

    def serve(self, window: int, category: str, case_no: str | None = None,
              item_code: str | None = None) -> str:
        """A ticket issued, called at `window` and left at the window (not completed)."""
        from controller.core.catalog import IssueByItem

        tid = new_id()
        if item_code:
            self.ok(IssueByItem(tid, item_code, "kiosk"))
        else:
            self.ok(c.IssueTicket(tid, category, "kiosk"))
        self.ok(c.OpenWindow(window))
        called = self.ok(c.CallNext(window))
        assert called[-1].data["ticket_id"] == tid
        return tid
