"""Half-hourly visitor flow records (5.2.6), computed from the event log alone.

`FlowBuilder` is fed the log in order (`feed`) and answers for any business day
(`day`): per half-hour slot from opening to closing, tickets issued per category and
channel, people-counter in/out, people waiting at the slot's end, the mean and 90th
percentile wait (issue to first call), the mean service time (last call to completion),
the no-show rate, evaluations per level, the busiest rolling 5 minutes, the windows open
per post, and the error of the wait each ticket was promised at issue.

Pure: no I/O, no clock. The builder can be kept and fed the log incrementally (the API
does, so a request costs only the events since the last one), or run once over a file
(`hallctl export flow`). It applies every event to a `HallState` of its own so that the
wait promised at issue is recomputed exactly as the API answered it (the same
`views.estimated_wait_min` on the same state); docs/flow.md has every definition.

People counters: the device layer records `counter.reading` events through the
`CounterReading` command registered here; see docs/flow.md for the payload.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from controller.config.model import HallConfig, Post
from controller.core import engine
from controller.core import events as ev
from controller.core.clock import business_day, closes_text, iso
from controller.core.commands import ModuleCommand
from controller.core.errors import invalid
from controller.core.events import Event
from controller.core.staffing import recommend
from controller.core.state import HallState, WindowStatus, apply, register_event
from controller.core.views import estimated_wait_min, waiting_ahead

SLOT_S = 1800.0  # the standard's "每隔半小时记录一次"
PEAK_S = 300.0  # Table 1's "5分钟内取号数"

COUNTER_READING = "counter.reading"
# Above any door counter's running total (a billion people through one door), below
# anything that breaks arithmetic or JSON downstream: a reading past it is a fault.
MAX_COUNT = 10**9
LEVELS = (5, 4, 3, 2, 1)


# ---- people counters: one command, one event ----------------------------------------

@dataclass(frozen=True, slots=True)
class CounterReading(ModuleCommand):
    """A people counter's reading: counts since its last reading (`entered`, `left`), or
    its running totals (`in_total`, `out_total`), as the device offers."""

    counter: str
    entered: int | None = None
    left: int | None = None
    in_total: int | None = None
    out_total: int | None = None


def _decide_counter(state: HallState, cfg: HallConfig, cmd: CounterReading, now: float
                    ) -> list[Event]:
    if not cmd.counter or len(cmd.counter) > 64:
        raise invalid("bad_counter", "a counter has a name of 1-64 characters")
    values = {"in": cmd.entered, "out": cmd.left, "in_total": cmd.in_total,
              "out_total": cmd.out_total}
    if all(v is None for v in values.values()):
        raise invalid("bad_counter", "give in/out counts or in_total/out_total")
    for key, v in values.items():
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                              or not 0 <= v < MAX_COUNT):
            raise invalid("bad_counter",
                          f"{key} must be a count of people (0 to {MAX_COUNT - 1})")
    return [Event(COUNTER_READING, {"counter": cmd.counter,
                                    **{k: v for k, v in values.items() if v is not None}})]


def _apply_counter(state: HallState, d: dict[str, Any], at: float) -> None:
    """Only the latest reading per counter is kept (for the dashboard); figures per slot
    are computed from the log by the builder."""
    state.extra.setdefault("counters", {})[d["counter"]] = {**d, "at": at}


engine.register_command(CounterReading, _decide_counter)
register_event(COUNTER_READING, _apply_counter)


# ---- the builder ----------------------------------------------------------------------

@dataclass(slots=True)
class _Slot:
    issued_by_category: dict[str, int] = field(default_factory=dict)
    issued_by_channel: dict[str, int] = field(default_factory=dict)
    counter_in: int = 0
    counter_out: int = 0
    counted: bool = False  # a counter reading fell in this slot
    waits: list[float] = field(default_factory=list)  # minutes, by issue slot
    errors: list[float] = field(default_factory=list)  # |promised - actual|, by issue slot
    services: list[float] = field(default_factory=list)  # minutes, by completion slot
    completed: int = 0
    no_show: int = 0
    evaluations: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Ticket:
    day: str
    slot: int
    issued_at: float
    promised_min: int | None
    called: bool = False
    last_call: float | None = None
    category: str = ""


@dataclass(slots=True)
class _Day:
    name: str
    opens_at: float
    slots: dict[int, _Slot] = field(default_factory=dict)
    issues: list[float] = field(default_factory=list)

    def slot(self, index: int) -> _Slot:
        found = self.slots.get(index)
        if found is None:
            found = self.slots[index] = _Slot()
        return found


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def rolling_peaks(times: list[float], width: float = PEAK_S) -> list[int]:
    """For each (sorted) issue time t, the tickets taken in (t - width, t]: the busiest
    5 minutes always end at a ticket, so the maximum of these is the peak."""
    out: list[int] = []
    lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        out.append(hi - lo + 1)
    return out


class FlowBuilder:
    def __init__(self, cfg: HallConfig) -> None:
        self.cfg = cfg
        self.state = HallState()
        self.last_seq = 0
        self.last_ts = 0.0
        self._days: dict[str, _Day] = {}
        self._tickets: dict[str, _Ticket] = {}
        self._counters: dict[str, tuple[int, int]] = {}  # last totals per counter
        # (ts, people waiting) and (ts, {post: windows open}) after every change
        self._waiting: list[tuple[float, int]] = [(0.0, 0)]
        self._open: list[tuple[float, dict[str, int]]] = [(0.0, {})]

    # -- input --

    def feed(self, events: Iterable[tuple[int, float, str, dict[str, Any]]]) -> None:
        """(seq, ts, type, data) in log order; events at or before `last_seq` are skipped,
        so the same builder can be fed overlapping reads."""
        for seq, ts, kind, data in events:
            if seq and seq <= self.last_seq:
                continue
            self._one(ts, kind, data)
            apply(self.state, kind, data, ts, seq)
            self._after(ts, kind, data)
            self.last_seq = seq or self.last_seq
            self.last_ts = max(self.last_ts, ts)

    def _day(self, name: str) -> _Day:
        found = self._days.get(name)
        if found is None:
            d = date.fromisoformat(name)
            opens = datetime.combine(d, self.cfg.day.opens, self.cfg.day.timezone)
            found = self._days[name] = _Day(name, opens.timestamp())
        return found

    def _where(self, ts: float) -> tuple[_Day, int]:
        day = self._day(business_day(ts, self.cfg.day))
        return day, math.floor((ts - day.opens_at) / SLOT_S)

    def _one(self, ts: float, kind: str, d: dict[str, Any]) -> None:
        """Before the event is applied: what needs the state as it was."""
        tid = d.get("ticket_id")
        if kind in (ev.TICKET_CALLED, ev.TICKET_CALLED_BACK):
            t = self._tickets.get(tid) if tid else None
            if t is not None:
                if not t.called:
                    t.called = True
                    wait = max(0.0, ts - t.issued_at) / 60.0
                    s = self._day(t.day).slot(t.slot)
                    s.waits.append(wait)
                    if t.promised_min is not None:
                        s.errors.append(abs(t.promised_min - wait))
                t.last_call = ts
        elif kind == ev.TICKET_COMPLETED:
            t = self._tickets.get(tid) if tid else None
            day, i = self._where(ts)
            s = day.slot(i)
            s.completed += 1
            if t is not None and t.last_call is not None:
                s.services.append(max(0.0, ts - t.last_call) / 60.0)
        elif kind == ev.TICKET_NO_SHOW:
            day, i = self._where(ts)
            day.slot(i).no_show += 1
        elif kind == ev.EVALUATION_RECORDED:
            day, i = self._where(ts)
            s = day.slot(i)
            level = int(d.get("level", 0))
            s.evaluations[level] = s.evaluations.get(level, 0) + 1
        elif kind == COUNTER_READING:
            self._count(ts, d)

    def _count(self, ts: float, d: dict[str, Any]) -> None:
        if any(not 0 <= int(d.get(k) or 0) < MAX_COUNT
               for k in ("in", "out", "in_total", "out_total")):
            return  # recorded before readings were bounded: a faulty device, not people
        name = str(d.get("counter", ""))
        entered, left = int(d.get("in", 0) or 0), int(d.get("out", 0) or 0)
        if "in_total" in d or "out_total" in d:
            in_total, out_total = int(d.get("in_total", 0)), int(d.get("out_total", 0))
            before = self._counters.get(name)
            self._counters[name] = (in_total, out_total)
            if before is None:
                return  # the first reading is the baseline
            # A total that went down was reset (power cycle): count from zero.
            entered += in_total - before[0] if in_total >= before[0] else in_total
            left += out_total - before[1] if out_total >= before[1] else out_total
        day, i = self._where(ts)
        s = day.slot(i)
        s.counted = True
        s.counter_in += entered
        s.counter_out += left

    def _after(self, ts: float, kind: str, d: dict[str, Any]) -> None:
        """After the event is applied: promised waits and the timelines."""
        if kind == ev.TICKET_ISSUED:
            ticket = self.state.tickets[d["ticket_id"]]
            promised: int | None = None
            if ticket.category in self.cfg.categories:  # gone from today's configuration?
                promised = estimated_wait_min(self.state, self.cfg, ticket.category,
                                              waiting_ahead(self.state, self.cfg, ticket))
            day = self._day(d["business_day"])
            i = math.floor((ts - day.opens_at) / SLOT_S)
            self._tickets[ticket.id] = _Ticket(day.name, i, ts, promised,
                                               category=ticket.category)
            s = day.slot(i)
            s.issued_by_category[ticket.category] = s.issued_by_category.get(ticket.category, 0) + 1
            s.issued_by_channel[ticket.channel] = s.issued_by_channel.get(ticket.channel, 0) + 1
            day.issues.append(ts)
        if kind.startswith("ticket."):
            n = sum(len(q) for q in self.state.waiting.values())
            if n != self._waiting[-1][1]:
                self._waiting.append((ts, n))
        elif kind.startswith("window."):
            counts: dict[str, int] = {}
            for number, w in self.state.windows.items():
                conf = self.cfg.windows.get(number)
                if conf is not None and w.status is WindowStatus.OPEN:
                    counts[conf.post.value] = counts.get(conf.post.value, 0) + 1
            self._open.append((ts, counts))

    # -- output --

    def days(self) -> list[str]:
        return sorted(self._days)

    def _at(self, timeline: list[tuple[float, Any]], ts: float) -> Any:
        i = bisect.bisect_right(timeline, ts, key=lambda x: x[0]) - 1
        return timeline[max(0, i)][1]

    def _open_during(self, start: float, end: float) -> dict[str, int]:
        """The most windows open at once during [start, end), per post."""
        most = dict(self._at(self._open, start))
        i = bisect.bisect_right(self._open, start, key=lambda x: x[0])
        while i < len(self._open) and self._open[i][0] < end:
            for post, n in self._open[i][1].items():
                most[post] = max(most.get(post, 0), n)
            i += 1
        return {p.value: most.get(p.value, 0) for p in Post if p.value in most or
                any(w.post is p for w in self.cfg.windows.values())}

    def day(self, name: str, now: float | None = None) -> dict[str, Any]:
        """The flow record of one business day (YYYY-MM-DD); slots after `now` (default:
        the last event fed) are left out, so today shows only what has happened."""
        date.fromisoformat(name)  # ValueError on a bad date
        day = self._day(name)
        now = self.last_ts if now is None else now
        cfg = self.cfg
        opens = day.opens_at
        d0 = datetime.fromtimestamp(opens, cfg.day.timezone)
        closes_dt = datetime.combine(d0.date(), cfg.day.closes, cfg.day.timezone)
        if closes_dt <= d0:
            closes_dt += timedelta(days=1)
        n_open = math.ceil((closes_dt.timestamp() - opens) / SLOT_S)
        first = min([0, *day.slots])
        last = max([n_open - 1, *day.slots])
        times = sorted(day.issues)
        peaks = rolling_peaks(times)
        slot_peak: dict[int, int] = {}
        best, best_at = 0, None
        for t, p in zip(times, peaks, strict=True):
            i = math.floor((t - opens) / SLOT_S)
            slot_peak[i] = max(slot_peak.get(i, 0), p)
            if p > best:
                best, best_at = p, t
        n = cfg.flow.self_service_computers
        out_slots = []
        everything = _Slot()
        for i in range(first, last + 1):
            start = opens + i * SLOT_S
            if start > now and i not in day.slots:
                break
            s = day.slots.get(i, _Slot())
            view = self._slot_view(s, start, min(start + SLOT_S, max(now, start)), now)
            view["peak_5min"] = slot_peak.get(i, 0)
            view["staffing"] = recommend(view["peak_5min"], n).by_post()
            view["in_opening_hours"] = 0 <= i < n_open
            out_slots.append(view)
            _merge(everything, s)
        totals = self._slot_view(everything, None, None, now)
        totals.pop("waiting_at_end")
        totals.pop("windows_open")
        basis = capacity_basis_min(totals["service_mean_min"], totals["completed"])
        for view in out_slots:
            view["capacity"] = slot_capacity(view["windows_open"], basis)
        return {
            "date": name,
            "opens": cfg.day.opens.strftime("%H:%M"),
            "closes": closes_text(cfg.day),
            "slot_min": int(SLOT_S // 60),
            "peak_5min": best,
            "peak_at": iso(best_at, cfg.day),
            "staffing": recommend(best, n).as_dict(),
            "capacity_basis_min": basis,
            "totals": totals,
            "slots": out_slots,
        }

    def _slot_view(self, s: _Slot, start: float | None, end: float | None, now: float
                   ) -> dict[str, Any]:
        ended = s.completed + s.no_show
        cfg = self.cfg
        view: dict[str, Any] = {}
        if start is not None and end is not None:
            view["start"] = iso(start, cfg.day)
            view["end"] = iso(start + SLOT_S, cfg.day)
        view.update({
            "issued": sum(s.issued_by_category.values()),
            "issued_by_category": {p: s.issued_by_category.get(p, 0) for p in cfg.categories},
            "issued_by_channel": dict(sorted(s.issued_by_channel.items())),
            "counter_in": s.counter_in if s.counted else None,
            "counter_out": s.counter_out if s.counted else None,
            "waiting_at_end": (self._at(self._waiting, start + SLOT_S - 1e-6)
                               if start is not None and end is not None
                               and start + SLOT_S <= now else None),
            "called": len(s.waits),
            "wait_mean_min": _r(_mean(s.waits)),
            "wait_p90_min": _r(_percentile(s.waits, 0.9)),
            "service_mean_min": _r(_mean(s.services)),
            "completed": s.completed,
            "no_show": s.no_show,
            "no_show_rate": _r(s.no_show / ended) if ended else None,
            "evaluations": {str(level): s.evaluations.get(level, 0) for level in LEVELS},
            "prediction_mae_min": _r(_mean(s.errors)),
            "windows_open": (self._open_during(start, end)
                             if start is not None and end is not None else None),
        })
        return view


def capacity_basis_min(service_mean_min: float | None, completed: int) -> float | None:
    """The service time a slot's capacity is reckoned with: the day's measured mean, at
    least one minute (a demo that completes services in seconds would otherwise show no
    limit); None before the day's first completed service."""
    if service_mean_min is None or not completed:
        return None
    return max(1.0, round(service_mean_min, 1))


def slot_capacity(windows_open: dict[str, int] | None, basis_min: float | None
                  ) -> float | None:
    """About how many tickets the windows open in a half hour could serve in it: windows
    open (every post) × 30 ÷ the basis. An estimate for the dashboard's arrivals chart,
    not a promise: categories differ in service time, and the flow record has no
    per-category means."""
    if basis_min is None or windows_open is None:
        return None
    return round(sum(windows_open.values()) * (SLOT_S / 60) / basis_min, 1)


def _merge(into: _Slot, s: _Slot) -> None:
    for k, v in s.issued_by_category.items():
        into.issued_by_category[k] = into.issued_by_category.get(k, 0) + v
    for k, v in s.issued_by_channel.items():
        into.issued_by_channel[k] = into.issued_by_channel.get(k, 0) + v
    into.counter_in += s.counter_in
    into.counter_out += s.counter_out
    into.counted = into.counted or s.counted
    into.waits += s.waits
    into.errors += s.errors
    into.services += s.services
    into.completed += s.completed
    into.no_show += s.no_show
    for level, n in s.evaluations.items():
        into.evaluations[level] = into.evaluations.get(level, 0) + n


CSV_COLUMNS = ("date", "start", "end", "issued", "counter_in", "counter_out",
               "waiting_at_end", "called", "wait_mean_min", "wait_p90_min",
               "service_mean_min", "completed", "no_show", "no_show_rate", "peak_5min",
               "prediction_mae_min", "capacity")


def csv_rows(cfg: HallConfig, record: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per slot: the fixed columns, then issued_<prefix>, issued_via_<channel>,
    eval_<level>, open_<post> and staff_<post> (Table 1)."""
    from controller.config.model import CHANNELS

    rows = []
    for s in record["slots"]:
        row: dict[str, Any] = {"date": record["date"]}
        for col in CSV_COLUMNS[1:]:
            row[col] = s.get(col)
        for p in cfg.categories:
            row[f"issued_{p}"] = s["issued_by_category"].get(p, 0)
        for ch in CHANNELS:
            row[f"issued_via_{ch}"] = s["issued_by_channel"].get(ch, 0)
        for level in LEVELS:
            row[f"eval_{level}"] = s["evaluations"][str(level)]
        for post in Post:
            row[f"open_{post.value}"] = (s["windows_open"] or {}).get(post.value, 0)
        for post, n in s["staffing"].items():
            row[f"staff_{post}"] = n
        rows.append(row)
    return rows


@dataclass(slots=True)
class _OffPeakCell:
    """One weekday's half hour over the days used: tickets taken and mean waits per day,
    and the days people came but nobody was called."""

    issued: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    unserved: int = 0


WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def off_peak(records: list[dict[str, Any]], quietest: int = 3) -> dict[str, Any]:
    """错时办事 (5.2.6): from past days' flow records, per weekday and half hour of the
    opening hours, the average tickets taken and the average wait; the quietest slots are
    the ones with the shortest average wait, fewer arrivals breaking ties (a slot nobody
    came in is quiet, its wait 0). Days without a ticket are left out (closed).

    A slot where tickets were taken but none was ever called (all expired or still
    waiting at closing) has no measured wait: it is a crowd the windows never reached,
    the opposite of quiet. Such a slot is never advised: its `wait_avg_min` is null (or
    the mean of the other days' waits) and `unserved_days` counts those days."""
    acc: dict[int, dict[str, _OffPeakCell]] = {}
    days_used = 0
    for rec in records:
        if not rec["totals"]["issued"]:
            continue
        days_used += 1
        wd = date.fromisoformat(rec["date"]).weekday()
        for s in rec["slots"]:
            if not s["in_opening_hours"]:
                continue
            key = s["start"][11:16] + "-" + s["end"][11:16]
            cell = acc.setdefault(wd, {}).setdefault(key, _OffPeakCell())
            cell.issued.append(s["issued"])
            if s["wait_mean_min"] is not None:
                cell.waits.append(s["wait_mean_min"])
            elif s["issued"]:
                cell.unserved += 1  # people came and nobody was called: not a quiet slot
    by_weekday: dict[str, Any] = {}
    lines = []
    for wd in sorted(acc):
        slots: list[dict[str, Any]] = []
        for key in sorted(acc[wd]):
            cell = acc[wd][key]
            slots.append({"slot": key, "days": len(cell.issued),
                          "issued_avg": _r(_mean(cell.issued)),
                          "wait_avg_min": (_r(_mean(cell.waits))
                                           if cell.waits or cell.unserved else 0.0),
                          "unserved_days": cell.unserved})
        candidates = [s for s in slots if not s["unserved_days"]]
        best = sorted(candidates, key=lambda s: (s["wait_avg_min"], s["issued_avg"], s["slot"]))
        names = sorted(s["slot"] for s in best[:quietest])
        by_weekday[str(wd + 1)] = {"weekday": WEEKDAYS[wd], "slots": slots, "quietest": names}
        lines.append(f"{WEEKDAYS[wd]} " + "、".join(names))
    return {"days_used": days_used, "by_weekday": by_weekday,
            "text": ("错时办事建议：" + "；".join(lines)) if lines else ""}
