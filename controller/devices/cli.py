"""`hallctl devices` (the device table of a running daemon) and `hallctl simulate` (the
demo hall's devices as simulators on ptys and sockets, for a newcomer's one-machine hall)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    devices = sub.add_parser("devices", help="the devices of a running daemon and their state")
    devices.add_argument("--url", default=None,
                         help="the daemon's base URL (default: from the hall file's listen, "
                              "else http://127.0.0.1:8080)")
    devices.add_argument("--config", type=Path, default=None)
    devices.add_argument("--json", action="store_true", help="print the raw JSON")

    sim = sub.add_parser("simulate", help="simulate the hall's devices (ptys and sockets)")
    sim.add_argument("--config", type=Path, default=None, help="hall TOML (default: demo hall)")
    sim.add_argument("--data-dir", default=None,
                     help="where the daemon looks for relative ports (default ./var)")


def run(args: argparse.Namespace) -> int:
    if args.command == "devices":
        return cmd_devices(args)
    return cmd_simulate(args)


def _cfg(path: Path | None) -> Any:
    from controller.config import DEFAULT_CONFIG, load_config

    return load_config(path or DEFAULT_CONFIG)


def format_table(devices: list[dict[str, Any]]) -> str:
    rows = [("ID", "KIND", "STATUS", "LAST SEEN", "LAST ERROR", "SHOWS")]
    for d in devices:
        seen = (dt.datetime.fromtimestamp(d["last_seen"]).strftime("%H:%M:%S")
                if d.get("last_seen") else "-")
        shows = " / ".join(d.get("content") or []) or "-"
        error = d.get("last_error") or "-" if d["status"] != "online" else "-"
        rows.append((d["id"], d["kind"], d["status"], seen, str(error)[:40], shows))
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        cells = [c + " " * (w - _width(c)) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join(cells + [r[-1]]))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def check_url(url: str) -> str | None:
    """What is wrong with a daemon's base URL given on the command line, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be http://HOST:PORT (the daemon's address), not {url!r}"
    try:
        _ = parts.port  # raises on a port that is not one
    except ValueError:
        return f"not a valid port in {url!r}"
    return None


def cmd_devices(args: argparse.Namespace) -> int:
    url = args.url
    if url is None:
        cfg = _cfg(args.config)
        url = f"http://{cfg.listen or '127.0.0.1:8080'}"
    elif problem := check_url(url):
        print(f"hallctl: --url: {problem}", file=sys.stderr)
        return 2
    where = url.rstrip("/") + "/api/devices"
    try:
        with urllib.request.urlopen(where, timeout=5) as resp:
            body = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"hallctl: cannot read {where}: {exc}", file=sys.stderr)
        return 1
    try:
        devices = body["devices"]
        if not isinstance(devices, list):
            raise TypeError("devices is not a list")
        table = format_table(devices)  # for --json too: the same answer is checked
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
        print(f"hallctl: {where}: not a hall controller's answer (is --url the daemon's?)",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    elif not devices:
        print("this hall has no devices ([[devices]] in the hall file)")
    else:
        print(table)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from controller.cli import dir_option
    from controller.devices.sim.hall import HallSimulation

    given = dir_option(args.data_dir, "--data-dir")
    cfg = _cfg(args.config)
    data_dir = given or cfg.data_dir or Path("var")
    if not cfg.devices:
        print(f"hallctl: {cfg.source} declares no [[devices]]", file=sys.stderr)
        return 2

    async def main() -> None:
        sim = HallSimulation(cfg, data_dir)
        await sim.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for e in cfg.devices:
            where = e.port and str(sim.link(e.port)) or f"{e.host}:{e.tcp_port}"
            print(f"{e.id:12} {e.kind:9} {e.profile:28} {where}"
                  + (f" address {e.address}" if e.address is not None else ""), flush=True)
        print("simulating; run `hallctl run` with the same --data-dir; Ctrl-C stops", flush=True)
        print(HELP, flush=True)
        if sys.stdin.isatty():
            loop.add_reader(sys.stdin.fileno(), lambda: _command(
                sim, cfg, sys.stdin.readline()))
        shown: dict[str, str] = {}
        while not stop.is_set():
            for e in cfg.devices:
                if e.kind in ("display", "keypad"):
                    text = sim.shown(e.id)
                    if shown.get(e.id) != text:
                        shown[e.id] = text
                        print(f"{e.id}: {text}", flush=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):  # not wait_for: see sync/mqtt_client.py
                    await stop.wait()
        await sim.stop()

    try:
        asyncio.run(main())
    except BrokenPipeError:
        raise  # stdout's reader went away: hallctl's main stops quietly
    except OSError as exc:  # a device's port taken, the data dir a file or read-only
        what = f"{exc.strerror}: {exc.filename}" if exc.filename and exc.strerror else exc
        print(f"hallctl: cannot simulate the devices of {cfg.source} in {data_dir}: {what}",
              file=sys.stderr)
        return 1
    return 0


HELP = """commands: press KEYPAD [DIGITS] call|recall|no_show|pause|resume|complete|transfer|
          evaluate|confirm (12 transfer: to window 12; 1|2|3 confirm: abandon|suspend|call back)
          · rate EVALUATOR N
          swipe READER elder|young · remove READER · paper PRINTER out|in
          count COUNTER IN OUT · printed PRINTER"""

# Sample cards: the standard's example number (born 1949) and one made for the demo; both
# carry valid check digits and belong to nobody.
SAMPLE_CARDS = {"elder": ("19491231", "11010519491231002X"),
                "young": ("19900307", "110105199003071239")}


def _command(sim: Any, cfg: Any, line: str) -> None:
    """One line typed at `hallctl simulate`: drive a simulated device like a citizen would."""
    from controller.devices.config import profiles
    from firmware_bridges import idcard

    words = line.split()
    if not words:
        return
    if len(words) < 2:  # `help`, or a verb without its device
        print(HELP, flush=True)
        return
    verb, target, *rest = words
    if target not in sim.devices:
        print(f"? no device {target!r}; devices: {' '.join(sorted(sim.devices))}", flush=True)
        return
    try:
        dev = sim.devices[target]
        entry = next(e for e in cfg.devices if e.id == target)
        if verb == "press":
            keys = {action: code for code, action in profiles()[entry.profile].keys.items()}
            digits = rest[0] if len(rest) > 1 and rest[0].isdigit() else ""
            dev.press(keys[rest[-1]], digits=digits)
        elif verb == "rate":
            dev.press(int(rest[0]))
        elif verb == "swipe":
            birth, number = SAMPLE_CARDS[rest[0]]
            dev.place(idcard.base_info_block("演示", "1", "01", birth, "演示地址", number))
        elif verb == "remove":
            dev.remove()
        elif verb == "paper":
            dev.paper_out = rest[0] == "out"
        elif verb == "count":
            asyncio.get_running_loop().create_task(dev.set_counts(int(rest[0]), int(rest[1])))
        elif verb == "printed":
            print(dev.printed[-1].text() if dev.printed else "(nothing printed yet)")
        else:
            print(HELP)
            return
        print("ok", flush=True)
    except (ValueError, KeyError, IndexError, StopIteration, AttributeError) as exc:
        print(f"? {exc!r}\n{HELP}", flush=True)
