"""`hallctl replay` and `hallctl export flow`: the command-line side of issue 7.

`export flow` reads the data directory's SQLite file read-only (`mode=ro`, safe next to a
running daemon: WAL readers never block the writer) and writes one CSV row per half hour.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from controller.config import DEFAULT_CONFIG, ConfigError, HallConfig, load_config
from controller.core.staffing import POSTS

EXPORT_CHUNK = 20_000


def add_parsers(sub: Any) -> None:
    replay = sub.add_parser(
        "replay", help="what-if: run a day of arrivals through the real engine")
    replay.add_argument("--arrivals", type=Path, required=True,
                        help="CSV time,category,priority (e.g. config/sample-day.csv)")
    replay.add_argument("--config", type=Path, default=None, help="hall TOML (default: demo)")
    replay.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="windows=1-8,13 | dispatch=priority,ratio | no_show=0.05 | "
                             "cv=0.6 | service_scale=1.0 (repeatable)")
    replay.add_argument("--seed", type=int, default=1)
    replay.add_argument("--history", default=None, metavar="DATA_DIR",
                        help="draw service times from this data dir's completed services")
    replay.add_argument("--json", action="store_true", help="print the figures as JSON")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")

    export = sub.add_parser("export", help="export records as CSV")
    what = export.add_subparsers(dest="export_what", required=True)
    flow = what.add_parser("flow", help="half-hourly flow records, one row per slot")
    flow.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
    flow.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (inclusive)")
    flow.add_argument("--config", type=Path, default=None)
    flow.add_argument("--data-dir", default=None)
    flow.add_argument("--output", type=Path, default=None, help="file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from controller.replay.sim import ReplayError

    try:
        if args.command == "replay":
            return _replay(args)
        return _export_flow(args)
    except ReplayError as exc:
        print(f"hallctl: {exc}", file=sys.stderr)
        return 2


class _Bar:
    """A progress bar on stderr: redrawn in place on a terminal, every 10 % otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if self.quiet or total == 0:
            return
        pct = done * 100 // total
        if not self.tty and pct // 10 == self.shown // 10 and pct != 100:
            return
        if pct == self.shown:
            return
        self.shown = pct
        filled = pct * 30 // 100
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {pct:3d}% {done}/{total} arrivals"
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)
        if self.tty and done == total:
            print(file=sys.stderr)


def _settings(cfg: HallConfig, pairs: list[str]) -> tuple[HallConfig, dict[str, Any]]:
    import dataclasses

    from controller.config.model import DISPATCH_RULES
    from controller.replay.sim import ReplayError, parse_windows

    opts: dict[str, Any] = {"windows": None, "no_show": 0.05, "cv": 0.6, "service_scale": 1.0}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ReplayError(f"--set {pair}: use KEY=VALUE")
        if key == "windows":
            opts["windows"] = parse_windows(value, cfg)
        elif key == "dispatch":
            rules = tuple(r.strip() for r in value.split(",") if r.strip())
            if any(r not in DISPATCH_RULES for r in rules):
                raise ReplayError(f"--set dispatch: rules are {', '.join(DISPATCH_RULES)}")
            if len(set(rules)) != len(rules):  # as the hall file's queue.dispatch
                raise ReplayError(f"--set dispatch={value}: names a rule twice")
            cfg = dataclasses.replace(cfg, queue=dataclasses.replace(cfg.queue, dispatch=rules))
        elif key in ("no_show", "cv", "service_scale"):
            try:
                number = float(value)
            except ValueError:
                raise ReplayError(f"--set {key}: not a number: {value!r}") from None
            if not (0 <= number <= 1 if key == "no_show" else 0 < number <= 10):
                raise ReplayError(f"--set {key}={value}: out of range")
            opts[key] = number
        else:
            raise ReplayError(f"--set {key}: known keys are windows, dispatch, no_show, cv, "
                              "service_scale")
    return cfg, opts


def _replay(args: argparse.Namespace) -> int:
    from controller.cli import dir_option
    from controller.replay.sim import (
        configured_model,
        empirical_model,
        load_arrivals,
        simulate,
    )

    history = dir_option(args.history, "--history")
    cfg = load_config(args.config or DEFAULT_CONFIG)
    cfg, opts = _settings(cfg, args.set)
    arrivals = load_arrivals(args.arrivals, cfg)
    if history is not None:
        model = empirical_model(cfg, history, opts["cv"], opts["service_scale"])
    else:
        model = configured_model(cfg, opts["cv"], opts["service_scale"])
    result = simulate(cfg, arrivals, model, seed=args.seed, windows=opts["windows"],
                      no_show=opts["no_show"], progress=_Bar(args.quiet))
    summary = result.summary(cfg)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return 0
    _print_summary(cfg, summary, args)
    return 0


def _print_summary(cfg: HallConfig, s: dict[str, Any], args: argparse.Namespace) -> None:
    staff = s["staffing"]
    open_posts: dict[str, int] = {}
    for w in s["windows_open"]:
        kind = cfg.windows[w].post.value
        open_posts[kind] = open_posts.get(kind, 0) + 1
    print(f"replay of {args.arrivals} on {cfg.hall_name} (seed {args.seed}, "
          f"dispatch {'/'.join(cfg.queue.dispatch)})")
    print(f"  arrivals {s['arrivals']}, issued {s['issued']}, refused {s['refused'] or 0}, "
          f"called {s['called']}, no-shows {s['no_show']}")
    print(f"  wait: mean {s['wait_mean_min']} min, p90 {s['wait_p90_min']} min, "
          f"max {s['wait_max_min']} min; last service ends {s['last_service_ends']}")
    print(f"  prediction error (MAE of the wait promised at issue): "
          f"{s['prediction_mae_min']} min; congestion alerts raised: {s['alerts_raised']}")
    print(f"  windows open: {len(s['windows_open'])}; utilisation mean "
          f"{s['utilisation_mean']}")
    for w, u in s["utilisation"].items():
        print(f"    window {w:>3} {cfg.windows[int(w)].post.value:<12} {u * 100:5.1f} %")
    print(f"  Table 1 for the peak of {s['peak_5min']} tickets in 5 minutes "
          f"(row {staff['band']}{', extrapolated' if staff['extrapolated'] else ''}):")
    for name, post in POSTS:  # Table 1's columns, each with the window post staffing it
        configured = post is not None and any(w.post.value == post
                                              for w in cfg.windows.values())
        have = f"{open_posts.get(post or '', 0)} open" if configured else "no window"
        print(f"    {name:<15} {staff[name]:>3}   ({have})")
    print("  per half hour: start  issued  wait-mean  wait-p90  waiting-at-end  peak5")
    for slot in s["flow"]["slots"]:
        if slot["issued"] or slot["called"]:
            print(f"                  {slot['start'][11:16]}  {slot['issued']:>6}  "
                  f"{_f(slot['wait_mean_min']):>9}  {_f(slot['wait_p90_min']):>8}  "
                  f"{_f(slot['waiting_at_end']):>14}  {slot['peak_5min']:>5}")


def _f(v: Any) -> str:
    return "-" if v is None else str(v)


def _export_flow(args: argparse.Namespace) -> int:
    from controller.cli import dir_option
    from controller.core.clock import business_day
    from controller.core.flow import FlowBuilder
    from controller.replay.sim import ReplayError
    from controller.store.eventlog import DB_NAME, decode_data
    from controller.store.schema import explain

    cfg = load_config(args.config or DEFAULT_CONFIG)
    try:
        first, last = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    except ValueError:
        raise ConfigError(Path("--from/--to"), "date", "must be YYYY-MM-DD") from None
    if last < first:
        raise ReplayError("--to is before --from")
    if (last - first).days + 1 > 366:  # both ends included
        raise ReplayError("export at most 366 days at a time")
    data_dir = dir_option(args.data_dir, "--data-dir") or cfg.data_dir or Path("var")
    db = data_dir / DB_NAME
    if not db.is_file():
        raise ReplayError(f"{data_dir}: no {DB_NAME} here")
    builder = FlowBuilder(cfg)
    stop = last.isoformat()
    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ReplayError(f"{db}: {explain(db, exc)}") from None
    try:
        after = 0
        done = False
        while not done:
            rows = conn.execute(
                "SELECT seq, ts, type, data, private FROM events WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, EXPORT_CHUNK)).fetchall()
            if not rows:
                break
            batch = []
            for seq, ts, kind, data, private in rows:
                if business_day(ts, cfg.day) > stop:
                    done = True
                    break
                batch.append((seq, ts, kind, decode_data(data, private)))
            builder.feed(batch)
            after = rows[-1][0]
    except sqlite3.Error as exc:
        raise ReplayError(f"{db}: {explain(db, exc)}") from None
    finally:
        conn.close()
    try:
        _write_flow(args.output, cfg, builder, first, last)
    except BrokenPipeError:
        raise  # stdout's reader went away: hallctl's main stops quietly
    except OSError as exc:  # the --output file: no such directory, read-only, disk full
        print(f"hallctl: --output {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _write_flow(output: Path | None, cfg: HallConfig, builder: Any, first: date,
                last: date) -> None:
    from controller.core.flow import csv_rows

    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer: csv.DictWriter[str] | None = None
        # Counted, not `day += 1 day` to past `last`: --to 9999-12-31 has no next day.
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            for row in csv_rows(cfg, builder.day(day.isoformat(), time.time())):
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
    finally:
        if output:
            out.close()
