"""Flow records of a scripted day against figures computed by hand (docs/flow.md)."""

from __future__ import annotations

import pytest

from controller.core import commands as c
from controller.core.flow import CounterReading, FlowBuilder, csv_rows, rolling_peaks
from tests.flow.helpers import Driver, at, make_cfg


def scripted_day() -> Driver:
    d = Driver(make_cfg())
    d.run(at(8, 35), CounterReading("door", in_total=100, out_total=90))  # baseline
    d.issue(at(8, 40), "t1", "A")  # windows 1, 3 serve A, none open: 0 ahead -> 0 min
    d.issue(at(8, 41), "t2", "A", "sms")  # 1 ahead / 2 lanes x 10 min -> 5 min
    d.issue(at(8, 42), "t3", "B")  # 0 ahead -> 0 min
    d.run(at(8, 45), c.OpenWindow(1))
    d.run(at(8, 45), c.OpenWindow(2))
    d.run(at(8, 50), c.CallNext(1))  # t1: waited 10
    d.run(at(8, 50), c.CallNext(2))  # t3: waited 8
    d.run(at(8, 55), CounterReading("door", in_total=110, out_total=92))
    d.run(at(8, 58), c.CallNext(1))  # t1 done after 8 min; t2 called: waited 17
    d.run(at(9, 5), c.NoShow(2))  # t3
    d.run(at(9, 10), c.Complete(1))  # t2 done after 12 min
    d.run(at(9, 12), c.Evaluate("e1", 5, "kiosk", ticket_id="t2"))
    d.run(at(9, 15), CounterReading("door", entered=4, left=3))
    d.issue(at(9, 20), "t4", "A")  # window 1 open for A: 0 ahead -> 0 min
    d.issue(at(9, 21), "t5", "B")
    d.run(at(9, 40), c.CallNext(1))  # t4: waited 20
    return d


@pytest.fixture
def record() -> dict:
    d = scripted_day()
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    return b.day("2024-03-04", now=at(18, 0))


def test_slots_run_from_opening_to_closing(record: dict) -> None:
    slots = record["slots"]
    assert len(slots) == 18
    assert slots[0]["start"] == "2024-03-04T08:30:00+08:00"
    assert slots[-1]["end"] == "2024-03-04T17:30:00+08:00"
    assert all(s["in_opening_hours"] for s in slots)


def test_first_slot_by_hand(record: dict) -> None:
    s = record["slots"][0]
    assert s["issued"] == 3
    assert s["issued_by_category"] == {"A": 2, "B": 1}
    assert s["issued_by_channel"] == {"kiosk": 2, "sms": 1}
    assert (s["counter_in"], s["counter_out"]) == (10, 2)
    assert s["waiting_at_end"] == 0
    assert s["called"] == 3
    assert s["wait_mean_min"] == round((10 + 17 + 8) / 3, 2)
    assert s["wait_p90_min"] == 17
    assert s["service_mean_min"] == 8
    assert (s["completed"], s["no_show"], s["no_show_rate"]) == (1, 0, 0)
    assert s["prediction_mae_min"] == round((10 + 12 + 8) / 3, 2)  # promised 0, 5, 0
    assert s["peak_5min"] == 3
    assert s["windows_open"]["intake"] == 2 and s["windows_open"]["pickup"] == 0
    assert s["evaluations"] == {"5": 0, "4": 0, "3": 0, "2": 0, "1": 0}


def test_second_and_third_slot_by_hand(record: dict) -> None:
    s = record["slots"][1]
    assert s["issued_by_category"] == {"A": 1, "B": 1}
    assert (s["counter_in"], s["counter_out"]) == (4, 3)
    assert s["waiting_at_end"] == 2  # t4, t5
    assert s["called"] == 1 and s["wait_mean_min"] == 20 and s["wait_p90_min"] == 20
    assert s["service_mean_min"] == 12
    assert (s["completed"], s["no_show"], s["no_show_rate"]) == (1, 1, 0.5)
    assert s["evaluations"]["5"] == 1
    assert s["prediction_mae_min"] == 20
    assert s["peak_5min"] == 2
    third = record["slots"][2]
    assert third["waiting_at_end"] == 1 and third["issued"] == 0
    assert third["counter_in"] is None  # no counter reading in that half hour


def test_day_totals_and_staffing(record: dict) -> None:
    t = record["totals"]
    assert t["issued"] == 5
    assert t["wait_mean_min"] == 13.75
    assert t["wait_p90_min"] == 20
    assert t["service_mean_min"] == 10
    assert t["no_show_rate"] == round(1 / 3, 2)
    assert t["prediction_mae_min"] == 12.5
    assert (t["counter_in"], t["counter_out"]) == (14, 5)
    assert record["peak_5min"] == 3
    assert record["peak_at"] == "2024-03-04T08:42:00+08:00"
    assert record["staffing"]["intake"] == 4 and record["staffing"]["online"] == 2


def test_capacity_by_hand(record: dict) -> None:
    """Windows open in the slot (its most: two from 8:45 on) x 30 / the day's mean
    service (10 min)."""
    assert record["capacity_basis_min"] == 10
    caps = [s["capacity"] for s in record["slots"]]
    assert caps[0] == 2 * 30 / 10 and caps[1] == caps[2] == 6.0
    assert csv_rows(make_cfg(), record)[0]["capacity"] == 6.0


def test_no_capacity_before_the_first_completed_service() -> None:
    d = Driver(make_cfg())
    d.issue(at(8, 40), "t1", "A")
    d.run(at(8, 45), c.OpenWindow(1))
    d.run(at(8, 50), c.CallNext(1))
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    record = b.day("2024-03-04", now=at(9, 0))
    assert record["capacity_basis_min"] is None
    assert all(s["capacity"] is None for s in record["slots"])


def test_a_service_shorter_than_a_minute_counts_as_one() -> None:
    d = Driver(make_cfg())
    d.issue(at(8, 40), "t1", "A")
    d.run(at(8, 45), c.OpenWindow(1))
    d.run(at(8, 50), c.CallNext(1))
    d.run(at(8, 50, 20), c.Complete(1))
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    record = b.day("2024-03-04", now=at(9, 0))
    assert record["capacity_basis_min"] == 1
    assert record["slots"][0]["capacity"] == 30


def test_today_stops_at_now() -> None:
    d = scripted_day()
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    rec = b.day("2024-03-04", now=at(9, 10))
    assert len(rec["slots"]) == 2
    assert rec["slots"][1]["waiting_at_end"] is None  # the slot has not ended


def test_incremental_feed_equals_one_pass() -> None:
    d = scripted_day()
    whole = FlowBuilder(d.cfg)
    whole.feed(d.log)
    parts = FlowBuilder(d.cfg)
    parts.feed(d.log[:7])
    parts.feed(d.log[:12])  # overlapping reads are skipped by seq
    parts.feed(d.log)
    assert parts.day("2024-03-04", at(18)) == whole.day("2024-03-04", at(18))


def test_counter_reset_counts_from_zero() -> None:
    d = Driver(make_cfg())
    d.run(at(9, 0), CounterReading("door", in_total=500, out_total=400))
    d.run(at(9, 10), CounterReading("door", in_total=510, out_total=405))
    d.run(at(9, 20), CounterReading("door", in_total=3, out_total=1))  # power cycle
    b = FlowBuilder(d.cfg)
    b.feed(d.log)
    s = b.day("2024-03-04", at(18))["slots"][1]
    assert (s["counter_in"], s["counter_out"]) == (13, 6)


def test_rolling_peak_is_half_open() -> None:
    assert rolling_peaks([0, 100, 299, 300, 599.9]) == [1, 2, 3, 3, 2]
    assert rolling_peaks([]) == []


def test_csv_rows_have_every_column(record: dict) -> None:
    rows = csv_rows(make_cfg(), record)
    assert len(rows) == 18
    assert rows[0]["issued_A"] == 2 and rows[0]["issued_via_sms"] == 1
    assert rows[1]["eval_5"] == 1 and rows[0]["staff_intake"] == 4


def test_a_shared_window_is_a_share_of_a_lane() -> None:
    """Window 3 serves A and B 1:1: with B waiting too it is half a lane for A."""
    from controller.core.views import estimated_wait_min

    d = Driver(make_cfg())
    d.run(at(9), c.OpenWindow(3))
    for i in range(4):
        d.issue(at(9, 1), f"a{i}", "A")
    assert estimated_wait_min(d.state, d.cfg, "A", 4) == 40  # one whole lane, 10 min each
    d.issue(at(9, 2), "b", "B")
    assert estimated_wait_min(d.state, d.cfg, "A", 4) == 80  # half of window 3
    d.run(at(9, 2), c.OpenWindow(1))  # window 1 serves A only
    assert estimated_wait_min(d.state, d.cfg, "A", 3) == 20  # 1.5 lanes


def test_a_category_gone_from_the_configuration_does_not_break_the_record() -> None:
    d = scripted_day()
    import dataclasses

    cfg = d.cfg
    only_b = dataclasses.replace(cfg, categories={"B": cfg.categories["B"]})
    b = FlowBuilder(only_b)
    b.feed(d.log)
    rec = b.day("2024-03-04", at(18))
    assert rec["totals"]["issued"] == 5 and rec["totals"]["issued_by_category"] == {"B": 2}
    assert rec["slots"][0]["prediction_mae_min"] == 8  # B's ticket only
