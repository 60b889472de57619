"""What-if replay: a day of arrivals through the real engine, in simulated time.

Every arrival is an `IssueTicket`, every clerk's action a `CallNext` / `NoShow`, every
minute a `Tick`, all through `controller.core.engine.execute` on a fresh `HallState`, so
dispatch, numbering, quotas and congestion alerts behave exactly as in the hall. What the
engine cannot know, how long each service takes and whether the citizen comes when
called, comes from a seeded service-time model: configured distributions per category
(lognormal around the category's `default_service_min`), or the empirical service times
of a data directory's history. The same seed gives the same day, event for event.

The figures printed (waits, utilisation, Table 1, prediction error) are computed from the
events the engine produced, by the same `FlowBuilder` the API uses.
"""

from __future__ import annotations

import csv
import heapq
import math
import random
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.alerts import ALERT_RAISED
from controller.core.engine import execute
from controller.core.flow import FlowBuilder
from controller.core.state import HallState
from controller.core.views import estimated_wait_min, waiting_ahead

DEFAULT_DAY = date(2026, 1, 5)  # a Monday; only its weekday matters
TICK_S = 60.0
CALL_GAP_S = 20.0  # from a call to the citizen at the window (or a no-show decided)


class ReplayError(Exception):
    """Bad input: the message names the file and line, or the setting."""


@dataclass(frozen=True, slots=True)
class Arrival:
    seconds: int  # after local midnight
    category: str
    priority: str | None


def load_arrivals(path: Path, cfg: HallConfig) -> list[Arrival]:
    """CSV with a header `time,category,priority`: HH:MM[:SS] local time, a category
    prefix of the hall, and an optional priority group. Sorted by time."""
    out = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not {"time", "category"} <= set(reader.fieldnames):
                raise ReplayError(f"{path}: the header must be time,category[,priority]")
            for line, row in enumerate(reader, start=2):
                m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", (row["time"] or "").strip())
                if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
                    raise ReplayError(f"{path}:{line}: time must be HH:MM[:SS]")
                cat = (row["category"] or "").strip()
                if cat not in cfg.categories:
                    raise ReplayError(f"{path}:{line}: no category {cat!r} in {cfg.source}")
                prio = (row.get("priority") or "").strip() or None
                if prio is not None and cfg.priority_rank(prio) is None:
                    raise ReplayError(f"{path}:{line}: no priority group {prio!r}")
                out.append(Arrival(int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0),
                                   cat, prio))
    except OSError as exc:
        raise ReplayError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReplayError(f"{path}: not a UTF-8 text file (a CSV time,category,priority)"
                          ) from None
    except csv.Error as exc:  # a field over the csv module's limit (131,072 characters)
        raise ReplayError(f"{path}:{reader.line_num + 1}: not a readable CSV line: {exc}"
                          ) from None
    out.sort(key=lambda a: a.seconds)
    return out


@dataclass(slots=True)
class ServiceModel:
    """Minutes of service per category: lognormal with the given mean and coefficient of
    variation, or drawn from observed service times when `observed` has the category."""

    means: dict[str, float]
    cv: float = 0.6
    observed: dict[str, list[float]] = field(default_factory=dict)
    scale: float = 1.0

    def minutes(self, rng: random.Random, category: str) -> float:
        seen = self.observed.get(category)
        if seen:
            return rng.choice(seen) * self.scale
        mean = self.means[category] * self.scale
        sigma2 = math.log(1 + self.cv * self.cv)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def configured_model(cfg: HallConfig, cv: float = 0.6, scale: float = 1.0) -> ServiceModel:
    return ServiceModel({p: cat.default_service_min for p, cat in cfg.categories.items()},
                        cv, scale=scale)


def empirical_model(cfg: HallConfig, data_dir: Path, cv: float = 0.6,
                    scale: float = 1.0) -> ServiceModel:
    """Service times (last call to completion) of every completed ticket in a data dir's
    log, read-only; categories without history keep the configured mean."""
    from controller.store.eventlog import DB_NAME
    from controller.store.schema import explain

    db = data_dir / DB_NAME
    if not db.is_file():
        raise ReplayError(f"{data_dir}: no {DB_NAME} here (--history)")
    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT ts, type, json_extract(data, '$.ticket_id'), "
                "json_extract(data, '$.category'), json_extract(data, '$.to_category') "
                "FROM events WHERE type IN (?, ?, ?, ?, ?) ORDER BY seq",
                (ev.TICKET_ISSUED, ev.TICKET_CALLED, ev.TICKET_CALLED_BACK,
                 ev.TICKET_COMPLETED, ev.TICKET_TRANSFERRED)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:  # corrupt, not a hall's log, unreadable
        raise ReplayError(f"{db}: cannot read the hall's log: {explain(db, exc)} "
                          "(--history)") from None
    category: dict[str, str] = {}
    called: dict[str, float] = {}
    observed: dict[str, list[float]] = {}
    for ts, kind, tid, cat, to_cat in rows:
        if kind == ev.TICKET_ISSUED:
            category[tid] = cat
        elif kind == ev.TICKET_TRANSFERRED and to_cat:
            category[tid] = to_cat
        elif kind in (ev.TICKET_CALLED, ev.TICKET_CALLED_BACK):
            called[tid] = ts
        elif kind == ev.TICKET_COMPLETED and tid in called and category.get(tid):
            observed.setdefault(category[tid], []).append((ts - called.pop(tid)) / 60.0)
    model = configured_model(cfg, cv, scale)
    model.observed = {k: v for k, v in observed.items() if k in cfg.categories}
    return model


@dataclass(slots=True)
class Result:
    log: list[tuple[int, float, str, dict[str, Any]]]
    day: str
    opened: list[int]
    started: float
    ended: float
    issued: int
    refused: dict[str, int]
    waits_min: list[float]  # issue to first call, per called ticket, as simulated
    promised_min: list[tuple[int, float]]  # (promised at issue, actual wait) per ticket
    busy_s: dict[int, float]
    open_s: float
    no_shows: int
    alerts: int

    def summary(self, cfg: HallConfig) -> dict[str, Any]:
        flow = FlowBuilder(cfg)
        flow.feed(self.log)
        record = flow.day(self.day, self.ended)
        waits = sorted(self.waits_min)
        util = {w: round(self.busy_s.get(w, 0.0) / self.open_s, 3) for w in self.opened}
        errors = [abs(p - a) for p, a in self.promised_min]
        return {
            "date": self.day,
            "arrivals": self.issued + sum(self.refused.values()),
            "issued": self.issued,
            "refused": dict(self.refused),
            "called": len(waits),
            "no_show": self.no_shows,
            "windows_open": self.opened,
            "wait_mean_min": round(sum(waits) / len(waits), 2) if waits else None,
            "wait_p90_min": (round(waits[max(0, math.ceil(0.9 * len(waits)) - 1)], 2)
                             if waits else None),
            "wait_max_min": round(waits[-1], 2) if waits else None,
            "last_service_ends": datetime.fromtimestamp(self.ended, cfg.day.timezone
                                                        ).strftime("%H:%M"),
            "utilisation": util,
            "utilisation_mean": round(sum(util.values()) / len(util), 3) if util else None,
            "prediction_mae_min": round(sum(errors) / len(errors), 2) if errors else None,
            "alerts_raised": self.alerts,
            "peak_5min": record["peak_5min"],
            "staffing": record["staffing"],
            "flow": record,
        }


def parse_windows(spec: str, cfg: HallConfig) -> list[int]:
    """`1-8,13,15`: those windows (by number); `all`: every configured window."""
    spec = spec.strip()
    if spec == "all":
        return list(cfg.windows)
    out: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ReplayError(f"windows={spec}: use numbers and ranges, e.g. 1-8,13")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo:
            raise ReplayError(f"windows={spec}: {part.strip()} is backwards: write {hi}-{lo}")
        for n in range(lo, hi + 1):
            if n not in cfg.windows:
                raise ReplayError(f"windows={spec}: no window {n} in {cfg.source}")
            if n not in out:
                out.append(n)
    return out


def simulate(cfg: HallConfig, arrivals: list[Arrival], model: ServiceModel, seed: int = 1,
             windows: list[int] | None = None, no_show: float = 0.05,
             day: date = DEFAULT_DAY,
             progress: Callable[[int, int], None] | None = None) -> Result:
    """Run the day. Windows open at opening time and serve until the queue is empty."""
    rng = random.Random(seed)
    tz = cfg.day.timezone
    midnight = datetime.combine(day, time(0), tz).timestamp()
    opens = datetime.combine(day, cfg.day.opens, tz).timestamp()
    opened = list(windows if windows is not None else cfg.windows)
    state = HallState()
    log: list[tuple[int, float, str, dict[str, Any]]] = []
    alerts = 0

    def run(now: float, cmd: c.Command) -> Any:
        nonlocal alerts
        out = execute(state, cfg, cmd, now)
        for e in out.events:
            log.append((len(log) + 1, now, e.type, e.data))
            alerts += e.type == ALERT_RAISED
        return out

    # (time, order, kind, value): order keeps equal times in a fixed sequence
    heap: list[tuple[float, int, str, Any]] = []
    order = 0

    def push(at: float, kind: str, value: Any) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (at, order, kind, value))

    for w in opened:
        push(opens, "open", w)
    for i, a in enumerate(arrivals):
        push(midnight + a.seconds, "arrive", (i, a))
    last_arrival = midnight + arrivals[-1].seconds if arrivals else opens
    push(min(opens, last_arrival), "tick", None)

    idle: set[int] = set()
    issued_at: dict[str, float] = {}
    promised: dict[str, int] = {}
    waits: list[float] = []
    pairs: list[tuple[int, float]] = []
    busy: dict[int, float] = {}
    refused: dict[str, int] = {}
    no_shows = 0
    issued = 0
    end = opens

    def call(now: float, w: int) -> None:
        out = run(now, c.CallNext(w))
        called = [e for e in out.events if e.type == ev.TICKET_CALLED]
        if not called:
            idle.add(w)
            return
        idle.discard(w)
        tid = called[0].data["ticket_id"]
        if tid in issued_at:
            wait = (now - issued_at.pop(tid)) / 60.0
            waits.append(wait)
            pairs.append((promised.pop(tid), wait))
        if rng.random() < no_show:
            push(now + CALL_GAP_S * 3, "no_show", w)
        else:
            seconds = CALL_GAP_S + model.minutes(rng, state.tickets[tid].category) * 60.0
            busy[w] = busy.get(w, 0.0) + seconds
            push(now + seconds, "done", w)

    total = len(arrivals)
    while heap:
        now, _, kind, value = heapq.heappop(heap)
        end = max(end, now)
        if kind == "open":
            run(now, c.OpenWindow(value))
            call(now, value)
        elif kind == "arrive":
            i, a = value
            tid = f"r{i + 1:05d}"
            out = run(now, c.IssueTicket(tid, a.category, "kiosk", a.priority))
            if out.refusal is not None:
                refused[out.refusal.code] = refused.get(out.refusal.code, 0) + 1
            else:
                issued += 1
                t = state.tickets[tid]
                issued_at[tid] = now
                promised[tid] = estimated_wait_min(state, cfg, t.category,
                                                   waiting_ahead(state, cfg, t))
                for w in cfg.windows_serving(a.category):
                    if w in idle:
                        call(now, w)
                        break
            if progress is not None and (i + 1) % 50 == 0:
                progress(i + 1, total)
        elif kind == "done":
            call(now, value)
        elif kind == "no_show":
            run(now, c.NoShow(value))
            no_shows += 1
            call(now, value)
        elif kind == "tick":
            run(now, c.Tick())
            busy_left = len(idle) < len(opened) or now < last_arrival
            if busy_left:
                push(now + TICK_S, "tick", None)
    if progress is not None:
        progress(total, total)
    # Those idle at the end of the day: their last call found nobody; close the windows.
    final = end
    for w in opened:
        if state.window(w).current is None:
            run(final, c.CloseWindow(w))
    return Result(log, day.isoformat(), opened, opens, final, issued, refused, waits, pairs,
                  busy, max(1.0, final - opens), no_shows, alerts)
