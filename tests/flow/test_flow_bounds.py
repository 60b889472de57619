"""Flow figures that must hold up against bad days and bad devices:

- the off-peak advice (错时办事) never names a rush slot nobody was served in as quiet;
- a people counter's reading is bounded (a faulty device must not break `/api/flow`);
- the flow service keeps a bounded number of finished days' records.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from controller.core import commands as c
from controller.core.engine import execute
from controller.core.flow import MAX_COUNT, CounterReading, FlowBuilder, off_peak
from controller.core.state import HallState
from controller.web.api_flow import FlowService
from tests.conftest import Api
from tests.flow.helpers import Driver, at, make_cfg

# -- off-peak advice ---------------------------------------------------------------------------


def _day_with_an_unserved_rush(d: Driver, day: int) -> None:
    """Window 1 serves one A ticket per half hour, each after a 5-minute wait, except at
    09:00-09:30, when six B tickets are taken and no B window ever opens: they expire."""
    d.run(at(8, 30, day=day), c.OpenWindow(1))
    for i in range(18):
        start = at(8, 30, day=day) + i * 1800
        if i == 1:
            for k in range(6):
                d.issue(start + 60, f"rush{day}-{k}", "B")
            continue
        d.issue(start, f"a{day}-{i}", "A")
        d.run(start + 300, c.CallNext(1))
        d.run(start + 600, c.Complete(1))
    d.run(at(17, 30, day=day), c.CloseWindow(1))


def test_off_peak_never_advises_a_slot_where_nobody_was_served() -> None:
    cfg = make_cfg()
    d = Driver(cfg)
    for day in (4, 11):  # two Mondays
        _day_with_an_unserved_rush(d, day)
    d.run(at(9, 0, day=12), c.Tick())  # the second Monday's rush expires
    expired = [e for e in d.log if e[2] == "ticket.expired"]
    assert len(expired) == 12  # every rush ticket, uncalled
    b = FlowBuilder(cfg)
    b.feed(d.log)
    records = [b.day(f"2024-03-{n:02d}", at(18, day=12)) for n in range(4, 12)]
    advice = off_peak(records, quietest=3)
    monday = advice["by_weekday"]["1"]
    rush = next(s for s in monday["slots"] if s["slot"] == "09:00-09:30")
    assert rush == {"slot": "09:00-09:30", "days": 2, "issued_avg": 6.0,
                    "wait_avg_min": None, "unserved_days": 2}
    assert "09:00-09:30" not in monday["quietest"]
    assert monday["quietest"] == ["08:30-09:00", "09:30-10:00", "10:00-10:30"]
    assert "09:00-09:30" not in advice["text"]


def test_off_peak_keeps_quiet_slots_with_no_arrivals_at_zero_wait() -> None:
    cfg = make_cfg()
    d = Driver(cfg)
    d.run(at(8, 30), c.OpenWindow(1))
    d.issue(at(9, 0), "t1", "A")
    d.run(at(9, 20), c.CallNext(1))
    b = FlowBuilder(cfg)
    b.feed(d.log)
    monday = off_peak([b.day("2024-03-04", at(18))])["by_weekday"]["1"]
    empty = next(s for s in monday["slots"] if s["slot"] == "08:30-09:00")
    assert (empty["wait_avg_min"], empty["unserved_days"]) == (0.0, 0)
    assert monday["quietest"] == ["08:30-09:00", "09:30-10:00", "10:00-10:30"]


# -- people counters ---------------------------------------------------------------------------


def test_a_counter_reading_is_bounded() -> None:
    d = Driver(make_cfg())
    for bad in ({"entered": 10**30}, {"left": MAX_COUNT}, {"in_total": 10**4299},
                {"in_total": 5, "out_total": 10**12}):
        outcome = execute(d.state, d.cfg, CounterReading("door-1", **bad), at(9))
        assert outcome.refusal is not None and outcome.refusal.code == "bad_counter", bad
        assert outcome.refusal.status == 400
    assert "counters" not in d.state.extra
    d.run(at(9), CounterReading("door-1", in_total=MAX_COUNT - 1, out_total=0))
    assert d.state.extra["counters"]["door-1"]["in_total"] == MAX_COUNT - 1


def test_a_huge_reading_already_in_a_log_is_left_out_of_the_flow() -> None:
    """Readings recorded before the bound (a faulty device) must not break the record."""
    d = Driver(make_cfg())
    d.run(at(9, 0), CounterReading("door", in_total=100, out_total=90))
    d.log.append((len(d.log) + 1, at(9, 5), "counter.reading",
                  {"counter": "door", "in_total": 10**30, "out_total": 91}))
    d.run(at(9, 10), CounterReading("door", in_total=104, out_total=93))
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    record = b.day("2024-03-04", at(18))
    json.dumps(record, allow_nan=False)
    assert (record["totals"]["counter_in"], record["totals"]["counter_out"]) == (4, 3)


async def test_a_huge_reading_is_refused_and_the_flow_still_reads_over_http(hall: Api) -> None:
    for body in ({"counter": "door-1", "in": 10**30},
                 {"counter": "door-1", "in_total": 10**9, "out_total": 0}):
        status, answer = await hall.call("POST", "/api/counter-readings", hall.tokens.admin,
                                         body)
        assert status == 400, answer
    status, answer = await hall.call("POST", "/api/counter-readings", hall.tokens.admin,
                                     {"counter": "door-1", "in": 7, "out": 1})
    assert status == 201, answer
    status, flow = await hall.call("GET", "/api/flow", hall.tokens.supervisor)
    assert status == 200 and flow["totals"]["counter_in"] == 7


# -- the flow service's cache of finished days ----------------------------------------------------


class _Log:
    """The event log's `read` over a Driver's log."""

    def __init__(self, rows: list[tuple[int, float, str, dict[str, Any]]]) -> None:
        self.rows = rows

    async def read(self, after: int, limit: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(seq=s, ts=ts, type=k, data=dt, actor=None)
                for s, ts, k, dt in self.rows if s > after][:limit]


async def test_the_flow_service_keeps_a_bounded_number_of_finished_days() -> None:
    cfg = make_cfg()
    d = Driver(cfg)
    d.issue(at(9), "t1", "A")
    service = FlowService(SimpleNamespace(cfg=cfg, log=_Log(d.log)))  # type: ignore[arg-type]
    first = date(2024, 3, 4)

    def name(i: int) -> str:  # finished days only (today's record is never kept)
        return (first - timedelta(days=i)).isoformat()

    record = await service.day(name(0))
    assert record["totals"]["issued"] == 1
    for i in range(1, 62):
        await service.day(name(i))
    assert list(service.finished) == [name(i) for i in range(62)]
    assert await service.day(name(0)) is record  # a hit: now the most recently used
    await service.day(name(62))  # one too many: the least recently used goes, day 1
    assert len(service.finished) == 62
    assert name(0) in service.finished and name(1) not in service.finished
    for i in range(63, 3000):  # the review's 3000 dates
        await service.day(name(i))
    assert len(service.finished) == 62
    assert list(service.finished) == [name(i) for i in range(2938, 3000)]
    assert (await service.day(name(1)))["date"] == "2024-03-03"  # recomputed on demand
    assert service.kept == 62  # off_peak_weeks = 4: its 28 days fit
    assert isinstance(service.flow.state, HallState)
