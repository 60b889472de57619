"""Benchmark: from POST /api/windows/N/call-next to the last byte of the window screen's
frame, read on the simulator's side of a pty.

The daemon (`controller.daemon.run.serve`) and the simulated devices run in this process:
40 devices on 4 RS-485 buses (per bus: 4 caller keypads polled every 300 ms, 4 HT1 window
screens, 2 evaluators), each bus a pty at 9600 baud 8N1. One sample: issue a ticket for a
window, note the time, POST call-next, and take the time the simulator received the last
byte of the screen frame that carries the number (`请A001号办理`). A pty moves bytes at
memory speed, so the measured latency is the software overhead; the wire time of that
frame at 9600 baud (10 bits a byte) is printed beside it, and latency minus wire time is the
overhead of the controller. The baseline, in the same run, is the HTTP answer of the same
call-next (decide + group commit with fsync + answer): the screen's latency over it is the
cost of the device path. Goal: p99 overhead under 10 ms.

    .venv/bin/python bench/call_to_screen.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from controller.config import DEFAULT_CONFIG, load_config  # noqa: E402
from controller.daemon.run import serve  # noqa: E402
from controller.devices.config import parse_devices  # noqa: E402
from controller.devices.sim.devices import SimTextScreen  # noqa: E402
from controller.devices.sim.hall import HallSimulation  # noqa: E402
from controller.store.tokens import create_token  # noqa: E402
from firmware_bridges import textscreen  # noqa: E402

BAUD = 9600
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop


def wire_ms(n_bytes: int) -> float:
    return n_bytes * BITS_PER_BYTE / BAUD * 1000


def devices() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for bus in range(4):
        port = f"dev/bench{bus}"
        for i in range(4):
            window = bus * 4 + i + 1
            out.append({"id": f"kp{window}", "profile": "caller-keypad-ff68", "port": port,
                        "address": 1 + i, "window": window})
            out.append({"id": f"scr{window}", "profile": "generic-ht1-screen", "port": port,
                        "address": 21 + i, "window": window})
        for i in range(2):
            window = bus * 4 + i + 1
            out.append({"id": f"ev{window}", "profile": "evaluator-5key-ff68", "port": port,
                        "address": 11 + i, "window": window})
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(calls: int) -> int:
    base_cfg = load_config(DEFAULT_CONFIG)
    items = devices()
    cfg = dataclasses.replace(base_cfg, devices=parse_devices(
        items, base_cfg.source, base_cfg.categories, base_cfg.windows,
        {p.name for p in base_cfg.priorities}))
    assert len(cfg.devices) == 40
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        supervisor = create_token(data_dir, "supervisor", None)[1]
        kiosk = create_token(data_dir, "kiosk", None)[1]
        sim = HallSimulation(cfg, data_dir)
        await sim.start()
        arrivals: dict[str, float] = {}  # number -> when the screen frame's last byte arrived
        frame_len: dict[str, int] = {}

        def spy(dev: SimTextScreen) -> None:
            original = dev.handle

            def handle(f: textscreen.ScreenFrame) -> bytes | None:
                now = time.monotonic()  # the loop's clock too: the chunk just arrived
                reply = original(f)
                if f.command == textscreen.CMD_SHOW and f.data[:1] == b"\x01":
                    text = f.data[2:].decode("gb18030", errors="replace")
                    if text.startswith("请") and text not in arrivals:
                        arrivals[text] = now
                        frame_len[text] = len(textscreen.encode(f))
                return reply
            dev.handle = handle  # type: ignore[method-assign]

        for d in sim.devices.values():
            if isinstance(d, SimTextScreen):
                spy(d)
        from tests.conftest import free_port

        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
        url = f"http://127.0.0.1:{port}"
        hdr = {"Authorization": f"Bearer {supervisor}"}
        kh = {"Authorization": f"Bearer {kiosk}"}
        answer_ms: list[float] = []
        screen_ms: list[float] = []
        overhead_ms: list[float] = []
        after_answer_ms: list[float] = []
        wires: list[float] = []
        try:
            async with aiohttp.ClientSession() as s:
                for _ in range(500):
                    try:
                        async with s.get(url + "/api/devices") as r:
                            body = await r.json()
                            if body["devices"] and all(d["status"] == "online"
                                                       for d in body["devices"]):
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.02)
                else:
                    print("devices never all online", file=sys.stderr)
                    return 1
                for w in range(1, 17):
                    async with s.post(f"{url}/api/windows/{w}/open", headers=hdr) as r:
                        assert r.status == 200
                for i in range(calls):
                    w = i % 16 + 1
                    category = next(iter(cfg.windows[w].weights))
                    async with s.post(url + "/api/tickets", json={"category": category},
                                      headers=kh) as r:
                        ticket = await r.json()
                        assert r.status == 201, ticket
                    text = f"请{ticket['number']}号办理"
                    await asyncio.sleep(0.05)  # let the bus settle into its polling again
                    t0 = time.monotonic()
                    async with s.post(f"{url}/api/windows/{w}/call-next", headers=hdr) as r:
                        body = await r.json()
                        t_answer = time.monotonic()
                    if body["ticket"]["number"] != ticket["number"]:
                        continue  # another window's leftover: not this sample
                    deadline = time.monotonic() + 5
                    while text not in arrivals:
                        if time.monotonic() > deadline:
                            print(f"{text} never reached window {w}'s screen", file=sys.stderr)
                            return 1
                        await asyncio.sleep(0.0005)
                    latency = (arrivals[text] - t0) * 1000
                    answer_ms.append((t_answer - t0) * 1000)
                    screen_ms.append(latency)
                    wires.append(wire_ms(frame_len[text]))
                    overhead_ms.append(latency)  # pty: no wire time was spent
                    after_answer_ms.append((arrivals[text] - t_answer) * 1000)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await sim.stop()
    n = len(screen_ms)
    print(f"call-to-screen over ptys, 40 devices on 4 buses, {n} calls")
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'HTTP answer (baseline)':28}{pct(answer_ms, .5):10.2f}{pct(answer_ms, .99):10.2f}")
    print(f"{'screen frame, last byte':28}{pct(screen_ms, .5):10.2f}{pct(screen_ms, .99):10.2f}")
    print(f"{'wire time at 9600 baud':28}{statistics.median(wires):10.2f}{max(wires):10.2f}")
    print(f"{'overhead (latency - wire)':28}{pct(overhead_ms, .5):10.2f}"
          f"{pct(overhead_ms, .99):10.2f}")
    print(f"{'screen minus answer':28}{pct(after_answer_ms, .5):10.2f}"
          f"{pct(after_answer_ms, .99):10.2f}   (the device path alone; < 0: screen first)")
    print(f"on a real 9600-baud bus the screen would have it after about "
          f"{pct(overhead_ms, .5) + statistics.median(wires):.1f} ms (p50) / "
          f"{pct(overhead_ms, .99) + max(wires):.1f} ms (p99), plus any frame already on the wire")
    ratio = pct(screen_ms, .5) / max(pct(answer_ms, .5), 1e-9)
    print(f"screen / answer latency ratio (p50): {ratio:.2f}")
    goal = pct(overhead_ms, .99) < 10.0
    print(f"goal p99 overhead < 10 ms: {'met' if goal else 'NOT met'}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return asyncio.run(run(args.calls))


if __name__ == "__main__":
    raise SystemExit(main())
