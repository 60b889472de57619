"""A hall with simulated devices: the simulators first (their ptys and sockets), then the
real daemon in this event loop, wired to them by a `[[devices]]` list with free ports."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.config import HallConfig
from controller.daemon.run import serve
from controller.devices.config import parse_devices
from controller.devices.sim.hall import HallSimulation
from tests.conftest import Api, free_port, make_tokens, wait_healthy


def device_list() -> list[dict[str, Any]]:
    return [
        {"id": "kp1", "profile": "caller-keypad-ff68", "port": "dev/bus1", "address": 1,
         "window": 1},
        {"id": "kp2", "profile": "caller-keypad-ff68", "port": "dev/bus1", "address": 2,
         "window": 2},
        {"id": "ev1", "profile": "evaluator-5key-ff68", "port": "dev/bus1", "address": 11,
         "window": 1, "bad_reason": "E05"},
        {"id": "scr1", "profile": "generic-ht1-screen", "port": "dev/bus1", "address": 21,
         "window": 1},
        {"id": "scr2", "profile": "generic-ht1-screen", "port": "dev/bus1", "address": 22,
         "window": 2},
        {"id": "scr3", "profile": "onbon-bx6-rs485", "port": "dev/bus2", "address": 3,
         "window": 3},
        {"id": "strip", "profile": "onbon-bx5-tcp", "host": f"127.0.0.1:{free_port()}",
         "role": "hall_strip"},
        {"id": "printer", "profile": "escpos-80mm-tcp", "host": f"127.0.0.1:{free_port()}"},
        {"id": "reader", "profile": "idcard-sam-serial", "port": "dev/idcard", "category": "A",
         "printer": "printer"},
        {"id": "counter", "profile": "people-counter-modbus-tcp",
         "host": f"127.0.0.1:{free_port()}", "address": 1},
        {"id": "counter-rtu", "profile": "people-counter-modbus-rtu", "port": "dev/modbus",
         "address": 7},
    ]


def with_devices(cfg: HallConfig, items: list[dict[str, Any]]) -> HallConfig:
    devices = parse_devices(items, cfg.source, cfg.categories, cfg.windows,
                            {p.name for p in cfg.priorities})
    return dataclasses.replace(cfg, devices=devices)


async def until(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Waits for a condition, polling every 10 ms; fails the test naming it on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class DeviceHall:
    api: Api
    sim: HallSimulation
    cfg: HallConfig
    data_dir: Path

    async def devices(self) -> dict[str, dict[str, Any]]:
        status, body = await self.api.call("GET", "/api/devices")
        assert status == 200
        return {d["id"]: d for d in body["devices"]}

    async def all_online(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            devs = await self.devices()
            if all(d["status"] == "online" for d in devs.values()):
                return
            if time.monotonic() > deadline:
                down = {k: (v["status"], v["last_error"]) for k, v in devs.items()
                        if v["status"] != "online"}
                raise AssertionError(f"not all online: {down}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def device_hall(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[DeviceHall]:
    async with running_device_hall(tmp_path, demo_cfg, device_list()) as h:
        yield h


@contextlib.asynccontextmanager
async def running_device_hall(tmp_path: Path, demo_cfg: HallConfig,
                              items: list[dict[str, Any]]) -> AsyncIterator[DeviceHall]:
    """The simulators of `items`, then the daemon wired to them (a smaller hall than
    device_list() starts quicker)."""
    cfg = with_devices(demo_cfg, items)
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    sim = HallSimulation(cfg, data_dir)
    await sim.start()
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession() as session:
            yield DeviceHall(Api(base, session, tokens), sim, cfg, data_dir)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await sim.stop()
