"""Properties of the pure core under random sequences of commands (hypothesis).

Random commands (issue, call-next, recall, no-show, complete, suspend, call-back, transfer
to a category or a window, open/pause/resume/close, time passing) across four windows and
three categories, with a random dispatch pipeline, check that:

- no ticket is ever held by two windows, and none is called twice without a transfer or a
  suspension in between (plus the state's own bookkeeping stays consistent);
- with every window open and calling, every waiting ticket is eventually called;
- numbers are unique, and gapless from 001, per category and business day;
- a priority ticket is never passed over by a normal ticket the same window could serve;
- rebuilding the state from the emitted events gives the live state, and the same next
  decision at every window (replay equivalence).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.config.model import DISPATCH_RULES, HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.dispatch import candidates, choose
from controller.core.state import HallState, TicketStatus, WindowState, WindowStatus
from tests.unit.test_engine import Hall, category, make_cfg

WINDOWS = (1, 2, 3, 4)  # 1: A=2 B=1, 2: A, 3: B C, 4: C (see test_engine.BASE_HALL)
CATEGORIES = ("A", "B", "C")
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@cache
def config(pipeline: tuple[str, ...]) -> HallConfig:
    def edit(raw: dict[str, Any]) -> None:
        raw["queue"].update(dispatch=list(pipeline), recall_limit=1, suspend_return_min=5)
        category(raw, "A").update(service_level_min=10)
        category(raw, "B").update(service_level_min=5, per_person_daily_limit=2)
        category(raw, "C").update(service_level_min=15, daily_quota=12)
    return make_cfg(edit)


# -- strategies ----------------------------------------------------------------------------

window_st = st.sampled_from(WINDOWS)
Step = tuple[Any, ...]

BUILDERS: dict[str, st.SearchStrategy[Step]] = {
    "issue": st.tuples(st.just("issue"), st.sampled_from(CATEGORIES),
                       st.sampled_from([None, None, None, "green", "appointment"]),
                       st.sampled_from([None, None, "h1", "h2"])),
    "call": st.tuples(st.just("call"), window_st),
    "recall": st.tuples(st.just("recall"), window_st),
    "no_show": st.tuples(st.just("no_show"), window_st),
    "complete": st.tuples(st.just("complete"), window_st,
                          st.sampled_from([None, None, "C-1", "bad code"])),
    "suspend": st.tuples(st.just("suspend"), window_st),
    "call_back": st.tuples(st.just("call_back"), window_st, st.integers(0, 3)),
    "to_category": st.tuples(st.just("to_category"), window_st, st.sampled_from(CATEGORIES)),
    "to_window": st.tuples(st.just("to_window"), window_st, window_st),
    "open": st.tuples(st.just("open"), window_st),
    "pause": st.tuples(st.just("pause"), window_st),
    "resume": st.tuples(st.just("resume"), window_st),
    "close": st.tuples(st.just("close"), window_st),
    "tick": st.tuples(st.just("tick")),
}
# How often each kind comes up: queues must build up and drain, as in a hall, with the
# rarer window actions in between.
KIND_WEIGHTS = {"issue": 8, "call": 6, "recall": 1, "no_show": 1, "complete": 1, "suspend": 2,
                "call_back": 1, "to_category": 2, "to_window": 2, "open": 1, "pause": 1,
                "resume": 1, "close": 1, "tick": 1}
command_st: st.SearchStrategy[Step] = st.sampled_from(
    [k for k, n in KIND_WEIGHTS.items() for _ in range(n)]).flatmap(BUILDERS.__getitem__)
small_delay_st = st.integers(0, 300)
# one delay in ten is a jump of hours, which may cross the numbering reset at 03:00
any_delay_st = st.integers(0, 9).flatmap(
    lambda n: st.sampled_from([3600, 6 * 3600, 20 * 3600]) if n == 0 else small_delay_st)


def steps_st(delay: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[int, Step]]]:
    return st.lists(st.tuples(delay, command_st), min_size=20, max_size=80)


# any order of the rules, some of them left out (all of them, now and then)
pipeline_st = st.builds(
    lambda order, dropped: tuple(r for r in order if r not in dropped),
    st.permutations(DISPATCH_RULES),
    st.sets(st.sampled_from(DISPATCH_RULES), max_size=len(DISPATCH_RULES)),
)
priority_first_st = st.permutations(("directed", "overdue", "ratio")).map(
    lambda rest: ("priority", *rest))


# -- running -------------------------------------------------------------------------------


@dataclass
class CallRecord:
    window: int
    ticket_id: str
    candidates: list[tuple[str, str | None, int]]  # (id, priority, issue order) before it


@dataclass
class Trace:
    hall: Hall
    calls: list[CallRecord] = field(default_factory=list)


def to_command(hall: Hall, step: Step) -> c.Command:
    kind = step[0]
    if kind == "issue":
        hall._ids += 1
        return c.IssueTicket(f"t{hall._ids}", step[1], "kiosk", step[2], step[3])
    if kind == "call":
        return c.CallNext(step[1])
    if kind == "recall":
        return c.Recall(step[1])
    if kind == "no_show":
        return c.NoShow(step[1])
    if kind == "complete":
        return c.Complete(step[1], case_no=step[2])
    if kind == "suspend":
        return c.Suspend(step[1])
    if kind == "call_back":
        held = sorted(hall.state.suspended)
        target = held[step[2] % len(held)] if held else "missing"
        return c.CallBack(step[1], target)
    if kind == "to_category":
        return c.Transfer(step[1], "转类别", to_category=step[2])
    if kind == "to_window":
        return c.Transfer(step[1], "转窗口", to_window=step[2])
    if kind == "open":
        return c.OpenWindow(step[1])
    if kind == "pause":
        return c.PauseWindow(step[1], "暂离")
    if kind == "resume":
        return c.ResumeWindow(step[1])
    if kind == "close":
        return c.CloseWindow(step[1])
    return c.Tick()


def execute_traced(trace: Trace, cmd: c.Command) -> None:
    hall = trace.hall
    hall.run(c.Tick())  # let time pass first, so the candidates below are the real ones
    before: list[tuple[str, str | None, int]] = []
    if isinstance(cmd, c.CallNext) and cmd.window in hall.cfg.windows:
        before = [(t.id, t.priority, t.order)
                  for t in candidates(hall.state, hall.cfg, cmd.window)]
    out = hall.run(cmd)
    for e in out.events:
        if e.type == ev.TICKET_CALLED:
            assert isinstance(cmd, c.CallNext)
            trace.calls.append(CallRecord(cmd.window, e.data["ticket_id"], before))
    check_state(hall.state)


def run(cfg: HallConfig, steps: list[tuple[int, Step]]) -> Trace:
    trace = Trace(Hall(cfg))
    for w in WINDOWS:  # the day starts with every window open; steps may close them
        execute_traced(trace, c.OpenWindow(w))
    for delay, step in steps:
        trace.hall.advance(delay)
        execute_traced(trace, to_command(trace.hall, step))
    return trace


def check_state(state: HallState) -> None:
    """Bookkeeping that must hold after every command."""
    held = [w.current for w in state.windows.values() if w.current is not None]
    assert len(held) == len(set(held)), f"a ticket held by two windows: {held}"
    for w in state.windows.values():
        if w.current is not None:
            t = state.tickets[w.current]
            assert (t.status, t.window) == (TicketStatus.CALLED, w.number)
    called = {t.id for t in state.tickets.values() if t.status is TicketStatus.CALLED}
    assert called == set(held), "a called ticket that no window holds"
    for prefix, queue in state.waiting.items():
        for tid, t in queue.items():
            assert t is state.tickets[tid]
            assert (t.status, t.category) == (TicketStatus.WAITING, prefix)
    waiting = {t.id for t in state.tickets.values() if t.status is TicketStatus.WAITING}
    assert waiting == {tid for q in state.waiting.values() for tid in q}
    suspended = {t.id for t in state.tickets.values() if t.status is TicketStatus.SUSPENDED}
    assert suspended == set(state.suspended)


def canonical(state: HallState) -> dict[str, Any]:
    """The whole state as plain data, minus what only the live side has: entries created
    empty on first look-up (a closed window asked about, an empty queue) and `last_seq`
    (the live run applies without sequence numbers)."""
    data = asdict(state)
    data["windows"] = {n: w for n, w in data["windows"].items()
                       if w != asdict(WindowState(n))}
    data["waiting"] = {p: sorted(q) for p, q in data["waiting"].items() if q}
    data.pop("last_seq")
    return data


# -- properties ----------------------------------------------------------------------------


@SETTINGS
@given(pipeline=pipeline_st, steps=steps_st(any_delay_st))
def test_no_ticket_is_called_twice_without_a_transfer_or_suspension(
    pipeline: tuple[str, ...], steps: list[tuple[int, Step]]
) -> None:
    trace = run(config(pipeline), steps)
    released: dict[str, bool] = {}  # ticket id -> may be called (again)
    holder: dict[str, int] = {}
    for kind, data, _ in trace.hall.log:
        tid: str = data.get("ticket_id", "")
        if kind == ev.TICKET_ISSUED:
            released[tid] = True
        elif kind in (ev.TICKET_CALLED, ev.TICKET_CALLED_BACK):
            assert released[tid], f"{data['number']} called again without transfer/suspension"
            assert tid not in holder
            released[tid] = False
            holder[tid] = data["window"]
        elif kind in (ev.TICKET_TRANSFERRED, ev.TICKET_SUSPENDED):
            assert holder.pop(tid) == data["window"]
            released[tid] = True
        elif kind in (ev.TICKET_COMPLETED, ev.TICKET_NO_SHOW):
            assert holder.pop(tid) == data["window"]
            released[tid] = False
        elif kind == ev.TICKET_EXPIRED:  # from a queue, or left at a window overnight
            assert holder.pop(tid, None) == data.get("window")
            released[tid] = False
    assert holder == {w.current: n for n, w in trace.hall.state.windows.items() if w.current}


@SETTINGS
@given(pipeline=pipeline_st, steps=steps_st(small_delay_st))
def test_every_waiting_ticket_is_eventually_called(
    pipeline: tuple[str, ...], steps: list[tuple[int, Step]]
) -> None:
    trace = run(config(pipeline), steps)
    hall = trace.hall
    for w in WINDOWS:
        status = hall.state.window(w).status
        execute_traced(trace, c.ResumeWindow(w) if status is WindowStatus.PAUSED
                       else c.OpenWindow(w))
    hall.advance(hall.cfg.queue.suspend_return_min * 60 + 1)  # suspended ones come back
    execute_traced(trace, c.Tick())
    pending = {t.id for t in hall.state.tickets.values() if t.status is TicketStatus.WAITING}
    assert not hall.state.suspended
    start = len(trace.calls)
    for _ in range(len(pending) + 1):
        before = len(trace.calls)
        for w in WINDOWS:
            hall.advance(1)
            execute_traced(trace, c.CallNext(w))
        if len(trace.calls) == before:
            break
    assert pending <= {r.ticket_id for r in trace.calls[start:]}
    assert all(not q for q in hall.state.waiting.values())


@SETTINGS
@given(pipeline=pipeline_st, steps=steps_st(any_delay_st))
def test_numbers_are_unique_per_category_and_business_day(
    pipeline: tuple[str, ...], steps: list[tuple[int, Step]]
) -> None:
    trace = run(config(pipeline), steps)
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for kind, data, _ in trace.hall.log:
        if kind == ev.TICKET_ISSUED:
            match = re.fullmatch(r"([A-Z])(\d{3})", data["number"])
            assert match and match[1] == data["category"]
            assert int(match[2]) == data["seq_in_day"]
            seen[(data["business_day"], data["category"])].append(int(match[2]))
    for key, numbers in seen.items():
        assert numbers == list(range(1, len(numbers) + 1)), key
    quota = trace.hall.cfg.categories["C"].daily_quota
    assert all(len(n) <= quota for (_, cat), n in seen.items() if cat == "C")


@SETTINGS
@given(pipeline=priority_first_st, steps=steps_st(small_delay_st))
def test_priority_is_never_passed_over_by_a_later_normal_ticket(
    pipeline: tuple[str, ...], steps: list[tuple[int, Step]]
) -> None:
    trace = run(config(pipeline), steps)
    tickets = trace.hall.state.tickets
    for record in trace.calls:
        chosen = tickets[record.ticket_id]
        if chosen.priority is not None:
            continue
        passed = [(tid, prio) for tid, prio, order in record.candidates
                  if prio is not None and order < chosen.order]
        assert not passed, f"window {record.window} called {chosen.number} before {passed}"
        # with priority first in the pipeline, not even a later priority ticket is passed
        assert all(prio is None for _, prio, _ in record.candidates)


@SETTINGS
@given(pipeline=pipeline_st, steps=steps_st(any_delay_st))
def test_replay_gives_the_live_state(
    pipeline: tuple[str, ...], steps: list[tuple[int, Step]]
) -> None:
    trace = run(config(pipeline), steps)
    hall = trace.hall
    rebuilt = hall.replay()
    assert canonical(rebuilt) == canonical(hall.state)
    for w in WINDOWS:
        live = choose(hall.state, hall.cfg, w, hall.now)
        again = choose(rebuilt, hall.cfg, w, hall.now)
        assert (None if live is None else (live.ticket.id, live.rule, live.credits)) == (
            None if again is None else (again.ticket.id, again.rule, again.credits))
