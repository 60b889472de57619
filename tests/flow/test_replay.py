"""What-if replay: deterministic for a seed, and its figures are the engine's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import DEFAULT_CONFIG, load_config
from controller.core import events as ev
from controller.core.state import HallState, apply
from controller.replay import (
    ReplayError,
    configured_model,
    load_arrivals,
    parse_windows,
    simulate,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "sample-day.csv"


@pytest.fixture(scope="module")
def cfg():
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def day(cfg):
    return load_arrivals(SAMPLE, cfg)


def test_sample_day_is_realistic(day) -> None:
    assert 1900 <= len(day) <= 2100
    per_hour = [sum(1 for a in day if a.seconds // 3600 == h) for h in range(8, 18)]
    assert max(per_hour) == per_hour[1]  # the morning peak, 09:00-10:00


def test_same_seed_same_day_and_figures_match_the_events(cfg, day) -> None:
    one = simulate(cfg, day, configured_model(cfg), seed=7)
    two = simulate(cfg, day, configured_model(cfg), seed=7)
    assert [(k, d) for _, _, k, d in one.log] == [(k, d) for _, _, k, d in two.log]
    a, b = one.summary(cfg), two.summary(cfg)
    assert a == b
    other = simulate(cfg, day, configured_model(cfg), seed=8)
    assert other.summary(cfg)["wait_mean_min"] != a["wait_mean_min"]

    # The simulation's own bookkeeping against the engine's events and the flow records.
    issued = [d for _, _, k, d in one.log if k == ev.TICKET_ISSUED]
    calls = [d for _, _, k, d in one.log if k == ev.TICKET_CALLED]
    assert a["issued"] == len(issued) == 2000
    assert a["called"] == len({d["ticket_id"] for d in calls})
    assert a["no_show"] == sum(1 for _, _, k, _ in one.log if k == ev.TICKET_NO_SHOW)
    totals = a["flow"]["totals"]
    assert totals["issued"] == a["issued"] and totals["called"] == a["called"]
    assert totals["wait_mean_min"] == a["wait_mean_min"]
    assert totals["wait_p90_min"] == a["wait_p90_min"]
    assert totals["prediction_mae_min"] == a["prediction_mae_min"]
    assert a["staffing"]["intake"] >= 12
    # The log is a log the daemon could have written: it rebuilds into the same queue.
    state = HallState()
    for seq, ts, kind, data in one.log:
        apply(state, kind, data, ts, seq)
    assert not any(state.waiting.values())


def test_fewer_windows_wait_longer(cfg, day) -> None:
    few = simulate(cfg, day[:300], configured_model(cfg), seed=1,
                   windows=parse_windows("1,4,9,11,13,15", cfg)).summary(cfg)
    all_ = simulate(cfg, day[:300], configured_model(cfg), seed=1).summary(cfg)
    assert few["wait_mean_min"] > all_["wait_mean_min"]
    assert few["windows_open"] == [1, 4, 9, 11, 13, 15]


def test_window_specs(cfg) -> None:
    assert parse_windows("1-3,15", cfg) == [1, 2, 3, 15]
    assert parse_windows("all", cfg) == list(cfg.windows)
    with pytest.raises(ReplayError):
        parse_windows("99", cfg)
    with pytest.raises(ReplayError):
        parse_windows("1-x", cfg)


def test_bad_arrivals_name_the_line(cfg, tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("time,category,priority\n09:00,A,\n9:61,A,\n")
    with pytest.raises(ReplayError, match=r"a.csv:3"):
        load_arrivals(f, cfg)
    f.write_text("time,category\n09:00,Z\n")
    with pytest.raises(ReplayError, match="no category 'Z'"):
        load_arrivals(f, cfg)


def test_cli_replay(tmp_path: Path) -> None:
    f = tmp_path / "morning.csv"
    f.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:201]))
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "replay", "--arrivals", str(f), "--seed", "3",
         "--set", "windows=1-12", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["issued"] == 200 and out["windows_open"] == list(range(1, 13))
    assert "100%" in proc.stderr  # the progress bar
    bad = subprocess.run(
        [sys.executable, "-m", "controller", "replay", "--arrivals", str(f),
         "--set", "windows=77"], capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert bad.returncode == 2 and "no window 77" in bad.stderr


def test_service_times_from_history(cfg, tmp_path: Path) -> None:
    import uuid

    from controller.replay import empirical_model
    from controller.store.eventlog import DB_NAME
    from controller.store.schema import open_sync
    from tests.flow.test_flow import scripted_day

    log = scripted_day().log
    conn = open_sync(str(tmp_path / DB_NAME))
    conn.executemany("INSERT INTO events(seq, id, ts, type, data, actor) VALUES (?,?,?,?,?,?)",
                     [(s, str(uuid.uuid4()), ts, k, json.dumps(p), "t") for s, ts, k, p in log])
    conn.close()
    model = empirical_model(cfg, tmp_path)
    assert model.observed == {"A": [8.0, 12.0]}  # the scripted day's two services
    import random
    draws = {model.minutes(random.Random(i), "A") for i in range(20)}
    assert draws == {8.0, 12.0}
    with pytest.raises(ReplayError):
        empirical_model(cfg, tmp_path / "nothing")
