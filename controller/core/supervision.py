"""Supervision flags (8.1), found in the event log: each with who (the window, and the
token that acted) and when, for supervisors to look into.

- `service_over_limit`: a service (call to its end) longer than `service_limit_factor` x
  the category's `default_service_min`; one still running counts at `now`.
- `window_paused_too_long`: a pause (to resume or close) longer than `pause_limit_min`.
- `transfer_loop`: a ticket transferred more than `transfer_limit` times, or back to a
  category it already left (A -> B -> A).

- `case_past_deadline`: a promised case (承诺件) not ready by its due date, or materials
  accepted as missing (容缺) not handed in by theirs: the `case.overdue` events of
  controller/core/cases.py, with the window and clerk that accepted the case.

Not here yet, on purpose: "called out of dispatch order" needs a manual call (every call
today is chosen by `dispatch.choose`, and its rule is in the `ticket.called` event); it
slots in as one more kind.

Pure: fed the log like `flow.FlowBuilder`; flags are derived, not stored, so changing a
limit in the configuration re-reads the history with the new limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.config.model import HallConfig
from controller.core import events as ev
from controller.core.clock import business_day, iso

Row = tuple[int, float, str, dict[str, Any], str | None]

# The cases module's events (controller/core/cases.py), by name: flags read the log only.
CASE_ACCEPTED = "case.accepted"
CASE_OVERDUE = "case.overdue"

_ENDS = (ev.TICKET_COMPLETED, ev.TICKET_NO_SHOW, ev.TICKET_TRANSFERRED,
         ev.TICKET_SUSPENDED, ev.TICKET_EXPIRED)


@dataclass(slots=True)
class _Service:
    ticket_id: str
    number: str
    category: str
    window: int
    since: float
    actor: str | None


@dataclass(slots=True)
class _Pause:
    window: int
    since: float
    reason: str | None
    actor: str | None


@dataclass(slots=True)
class _Path:
    number: str
    categories: list[str]
    transfers: int = 0
    flagged: bool = False


@dataclass(slots=True)
class FlagBuilder:
    cfg: HallConfig
    last_seq: int = 0
    flags: list[dict[str, Any]] = field(default_factory=list)
    _services: dict[str, _Service] = field(default_factory=dict)  # by ticket id
    _pauses: dict[int, _Pause] = field(default_factory=dict)
    _paths: dict[str, _Path] = field(default_factory=dict)
    _category: dict[str, str] = field(default_factory=dict)
    _cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # accepted, by case_no

    def feed(self, rows: Iterable[Row]) -> None:
        for seq, ts, kind, d, actor in rows:
            if seq and seq <= self.last_seq:
                continue
            self._one(ts, kind, d, actor)
            self.last_seq = seq or self.last_seq

    def _limit_min(self, prefix: str) -> float:
        cat = self.cfg.categories.get(prefix)
        base = cat.default_service_min if cat else 8.0
        return base * self.cfg.flow.service_limit_factor

    def _flag(self, kind: str, at: float, since: float, **data: Any) -> None:
        self.flags.append({"kind": kind, "at": at, "since": since, "ongoing": False, **data})

    def _one(self, ts: float, kind: str, d: dict[str, Any], actor: str | None) -> None:
        tid = str(d.get("ticket_id", ""))
        if kind == ev.TICKET_ISSUED:
            self._category[tid] = d["category"]
            self._paths[tid] = _Path(d["number"], [d["category"]])
        elif kind in (ev.TICKET_CALLED, ev.TICKET_CALLED_BACK):
            self._services[tid] = _Service(tid, d.get("number", ""),
                                           self._category.get(tid, str(d.get("category", ""))),
                                           int(d["window"]), ts, actor)
        if kind in _ENDS and tid in self._services:
            s = self._services.pop(tid)
            self._check_service(s, ts, ongoing=False)
        if kind == ev.TICKET_TRANSFERRED:
            self._transfer(ts, d, actor)
        elif kind == ev.WINDOW_PAUSED:
            w = int(d["window"])
            self._pauses[w] = _Pause(w, ts, d.get("reason"), actor)
        elif kind == CASE_ACCEPTED:
            self._cases[str(d.get("case_no"))] = {
                "window": d.get("window"), "by": d.get("by"), "actor": actor,
                "item_name": d.get("item_name"), "accepted_at": ts}
        elif kind == CASE_OVERDUE:
            case = self._cases.get(str(d.get("case_no")), {})
            self._flag("case_past_deadline", ts, ts, window=case.get("window"),
                       case_no=d.get("case_no"), deadline=d.get("kind"),
                       due_date=d.get("due_date"), item_code=d.get("item_code"),
                       item_name=case.get("item_name"), missing=d.get("missing"),
                       accepted_by=case.get("by"), actor=case.get("actor"))
        elif kind in (ev.WINDOW_RESUMED, ev.WINDOW_CLOSED, ev.WINDOW_OPENED):
            p = self._pauses.pop(int(d["window"]), None)
            if p is not None:
                self._check_pause(p, ts, ongoing=False)

    def _check_service(self, s: _Service, end: float, ongoing: bool) -> dict[str, Any] | None:
        minutes = (end - s.since) / 60.0
        limit = self._limit_min(s.category)
        if minutes <= limit:
            return None
        flag = {"kind": "service_over_limit", "at": end, "since": s.since,
                "ongoing": ongoing, "window": s.window, "ticket_id": s.ticket_id,
                "number": s.number, "category": s.category,
                "minutes": round(minutes, 1), "limit_min": round(limit, 1), "actor": s.actor}
        if not ongoing:
            self.flags.append(flag)
        return flag

    def _check_pause(self, p: _Pause, end: float, ongoing: bool) -> dict[str, Any] | None:
        minutes = (end - p.since) / 60.0
        if minutes <= self.cfg.flow.pause_limit_min:
            return None
        flag = {"kind": "window_paused_too_long", "at": end, "since": p.since,
                "ongoing": ongoing, "window": p.window, "reason": p.reason,
                "minutes": round(minutes, 1), "limit_min": self.cfg.flow.pause_limit_min,
                "actor": p.actor}
        if not ongoing:
            self.flags.append(flag)
        return flag

    def _transfer(self, ts: float, d: dict[str, Any], actor: str | None) -> None:
        tid = d["ticket_id"]
        path = self._paths.get(tid)
        if path is None:
            return
        path.transfers += 1
        back = False
        if d.get("to_category"):
            back = d["to_category"] in path.categories
            path.categories.append(d["to_category"])
            self._category[tid] = d["to_category"]
        if path.flagged or not (back or path.transfers > self.cfg.flow.transfer_limit):
            return
        path.flagged = True
        self._flag("transfer_loop", ts, ts, window=d.get("window"), ticket_id=tid,
                   number=path.number, categories=list(path.categories),
                   transfers=path.transfers, reason=d.get("reason"), actor=actor)

    def view(self, day: str | None, now: float) -> list[dict[str, Any]]:
        """Flags of one business day (None: all), the ongoing ones at `now` included,
        newest first, with times in the hall's zone."""
        found = list(self.flags)
        for s in self._services.values():
            if (flag := self._check_service(s, now, ongoing=True)) is not None:
                found.append(flag)
        for p in self._pauses.values():
            if (flag := self._check_pause(p, now, ongoing=True)) is not None:
                found.append(flag)
        if day is not None:
            found = [f for f in found if business_day(f["since"], self.cfg.day) == day]
        found.sort(key=lambda f: -f["at"])
        return [{**f, "at": iso(f["at"], self.cfg.day), "since": iso(f["since"], self.cfg.day)}
                for f in found]
