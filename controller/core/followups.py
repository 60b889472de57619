"""Bad ratings are followed up (8.3; DOMAIN.md: every bad review is called back, verified,
rectified or explained, with a ledger and a deadline).

A rating of 2 or 1 opens a follow-up in the same commit as the rating: this module takes
over the `Evaluate` command (decided by `controller.core.evaluations` as before) and adds
`followup.opened`, which is also the supervisors' alert (on the dashboard and up to the
cloud). The steps are done in order, each by someone, each with a deadline in working days
after the rating (`[cases].follow_up_days`): verify (核实), rectify (整改), revisit (回访),
close (办结). A step done after its deadline is recorded as late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.catalog.model import FOLLOW_UP_STEPS
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import evaluations
from controller.core.cases import by
from controller.core.engine import register_command
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import scrub
from controller.core.state import HallState, register_event
from controller.core.workdays import due, past

FOLLOWUP_OPENED = "followup.opened"
FOLLOWUP_STEP = "followup.step"
TYPES = (FOLLOWUP_OPENED, FOLLOWUP_STEP)
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class FollowUpStep(c.ModuleCommand):
    followup_id: str
    step: str
    note: str
    actor: str | None = None
    role: str | None = None
    window: int | None = None


@dataclass(slots=True)
class FollowUp:
    id: str
    evaluation_id: str
    opened_at: float
    data: dict[str, Any]
    deadlines: dict[str, str]
    done: list[dict[str, Any]] = field(default_factory=list)

    @property
    def next_step(self) -> str | None:
        return FOLLOW_UP_STEPS[len(self.done)] if len(self.done) < len(FOLLOW_UP_STEPS) else None

    @property
    def closed(self) -> bool:
        return self.next_step is None


def ledger(state: HallState) -> dict[str, FollowUp]:
    found = state.extra.get("followups")
    if found is None:
        found = state.extra["followups"] = {}
    return found


def overdue_steps(f: FollowUp, now: float, cfg: HallConfig) -> list[str]:
    """Steps not done whose deadline has passed."""
    done = {s["step"] for s in f.done}
    return [s for s in FOLLOW_UP_STEPS if s not in done and past(f.deadlines[s], now, cfg.day)]


def _evaluate(state: HallState, cfg: HallConfig, cmd: c.Evaluate, now: float) -> list[Event]:
    events = evaluations.evaluate(state, cfg, cmd, now)
    if cmd.level not in evaluations.BAD_LEVELS:
        return events
    rated = events[0].data
    deadlines = {step: due(now, days, cfg.cases, cfg.day)
                 for step, days in cfg.cases.follow_up_days}
    window = rated.get("window")
    return events + [Event(FOLLOWUP_OPENED, {
        "followup_id": cmd.evaluation_id,  # one follow-up per bad evaluation: same id
        "evaluation_id": cmd.evaluation_id,
        "alert": "bad_evaluation",
        "level": cmd.level,
        "reasons": list(cmd.reasons),
        "ticket_id": rated["ticket_id"],
        "number": rated["number"],
        "window": window,
        "window_name": cfg.windows[window].name if window in cfg.windows else None,
        "case_no": rated.get("case_no"),
        "item_code": rated.get("item_code"),
        "deadlines": deadlines,
    })]


def _step(state: HallState, cfg: HallConfig, cmd: FollowUpStep, now: float) -> list[Event]:
    f = state.extra.get("followups", {}).get(cmd.followup_id)
    if f is None:
        raise not_found("followup", f"no follow-up {cmd.followup_id}")
    if cmd.step not in FOLLOW_UP_STEPS:
        raise invalid("bad_step", f"step is one of {', '.join(FOLLOW_UP_STEPS)}")
    if f.closed:
        raise Refusal("followup_closed", "this follow-up is closed")
    if cmd.step != f.next_step:
        raise Refusal("step_out_of_order", f"the next step is {f.next_step}")
    note = cmd.note.strip()
    if not note:
        raise invalid("note_required", "say what was done")
    if len(note) > MAX_NOTE:
        raise invalid("note_too_long", f"a note has at most {MAX_NOTE} characters")
    return [Event(FOLLOWUP_STEP, {
        "followup_id": f.id, "step": cmd.step, "note": scrub(note),
        "by": by(cmd.actor, cmd.role, cmd.window),
        "late": past(f.deadlines[cmd.step], now, cfg.day),
    })]


def _opened(state: HallState, d: dict[str, Any], at: float) -> None:
    ledger(state)[d["followup_id"]] = FollowUp(d["followup_id"], d["evaluation_id"], at, d,
                                               dict(d["deadlines"]))


def _stepped(state: HallState, d: dict[str, Any], at: float) -> None:
    ledger(state)[d["followup_id"]].done.append({**d, "at": at})


register_command(c.Evaluate, _evaluate)
register_command(FollowUpStep, _step)
register_event(FOLLOWUP_OPENED, _opened)
register_event(FOLLOWUP_STEP, _stepped)
