"""Benchmark: what-if replay (simulated hall-days per second) against a bare queue loop.

The day: `config/sample-day.csv` (2,000 arrivals, morning peak) in a bench hall of 20
windows (the demo hall's 16 plus 4 more intake windows for the busiest categories), so
the queues are long at the peak but drain by the evening (service times lognormal around
70 % of the demo categories' `default_service_min`: at 100 % no 20-window hall could
serve 2,000 of them in a day).

- `replay`: `controller.replay.simulate`: every arrival, call, no-show and minute's Tick
  through `controller.core.engine.execute` on a fresh `HallState` (dispatch rules,
  numbering, alerts), then the flow record of the day from the events (`summary`).
- `bare`: the floor of what a replay can cost: the same arrivals and the same service
  times (drawn from the same seeded model, in the same order) through a plain `heapq`
  event loop with one FIFO per category and each window taking the first waiting ticket
  of its categories, nothing else: no engine, no events, no statistics.

Rounds alternate bare and replay so machine noise hits both. Printed: days per second
of each, the ratio replay/bare, and the replay's own figures as a sanity check.

    .venv/bin/python bench/replay.py [--rounds N] [--seed S]
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import random
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import dataclasses  # noqa: E402

from controller.config import DEFAULT_CONFIG, load_config  # noqa: E402
from controller.config.model import HallConfig, Post, Window  # noqa: E402
from controller.replay import configured_model, load_arrivals, simulate  # noqa: E402
from controller.replay.sim import CALL_GAP_S, Arrival, ServiceModel  # noqa: E402

SCALE = 0.7  # service times at 70 % of the demo's defaults: 20 windows can then drain the day
EXTRA = {17: {"A": 2, "D": 1}, 18: {"B": 2, "C": 1}, 19: {"E": 1, "A": 1}, 20: {"G": 1, "H": 1}}


def bench_hall() -> HallConfig:
    cfg = load_config(DEFAULT_CONFIG)
    windows = dict(cfg.windows)
    for n, weights in EXTRA.items():
        windows[n] = Window(n, f"{n}号窗口", Post.INTAKE, weights)
    return dataclasses.replace(cfg, windows=windows)


def bare(cfg: HallConfig, arrivals: list[Arrival], model: ServiceModel, seed: int,
         no_show: float = 0.05) -> dict[str, Any]:
    """The same day through a bare event loop: heapq + one deque per category."""
    rng = random.Random(seed)
    queues: dict[str, deque[tuple[float, str]]] = {p: deque() for p in cfg.categories}
    serves = {n: list(w.weights) for n, w in cfg.windows.items()}
    idle = set(cfg.windows)
    heap: list[tuple[float, int, int, Any]] = []
    order = 0
    for a in arrivals:
        order += 1
        heap.append((float(a.seconds), order, 0, a))
    heapq.heapify(heap)
    waits = []

    def call(now: float, w: int) -> None:
        nonlocal order
        best = None
        for p in serves[w]:
            q = queues[p]
            if q and (best is None or q[0][0] < queues[best][0][0]):
                best = p
        if best is None:
            idle.add(w)
            return
        idle.discard(w)
        issued, cat = queues[best].popleft()
        waits.append(now - issued)
        order += 1
        if rng.random() < no_show:
            heapq.heappush(heap, (now + CALL_GAP_S * 3, order, 1, w))
        else:
            seconds = CALL_GAP_S + model.minutes(rng, cat) * 60.0
            heapq.heappush(heap, (now + seconds, order, 1, w))

    while heap:
        now, _, kind, value = heapq.heappop(heap)
        if kind == 0:
            queues[value.category].append((now, value.category))
            for w in cfg.windows_serving(value.category):
                if w in idle:
                    call(now, w)
                    break
        else:
            call(now, value)
    return {"called": len(waits), "wait_mean_min": sum(waits) / len(waits) / 60.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = bench_hall()
    arrivals = load_arrivals(REPO / "config" / "sample-day.csv", cfg)
    model = configured_model(cfg, scale=SCALE)
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"{len(arrivals)} arrivals, {len(cfg.windows)} windows, {args.rounds} rounds")
    simulate(cfg, arrivals[:200], model, seed=args.seed)  # warm-up
    t_bare: list[float] = []
    t_replay: list[float] = []
    summary: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    for r in range(args.rounds):
        t0 = time.perf_counter()
        floor = bare(cfg, arrivals, model, args.seed)
        t1 = time.perf_counter()
        result = simulate(cfg, arrivals, model, seed=args.seed)
        summary = result.summary(cfg)
        t2 = time.perf_counter()
        t_bare.append(t1 - t0)
        t_replay.append(t2 - t1)
        print(f"  round {r + 1}: bare {t1 - t0:7.4f} s   replay {t2 - t1:7.4f} s "
              f"({len(result.log)} events)")
    best_bare, best_replay = min(t_bare), min(t_replay)
    print(f"bare:   {1 / best_bare:8.1f} hall-days/s (best of {args.rounds}), "
          f"mean wait {floor['wait_mean_min']:.1f} min")
    print(f"replay: {1 / best_replay:8.1f} hall-days/s (best of {args.rounds}), "
          f"mean wait {summary['wait_mean_min']} min, p90 {summary['wait_p90_min']} min, "
          f"last service {summary['last_service_ends']}, alerts {summary['alerts_raised']}")
    print(f"ratio replay/bare (speed): {best_bare / best_replay:.3f}; "
          f"replay costs {best_replay / best_bare:.1f}x the bare loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
