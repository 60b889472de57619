"""Fixtures for cloud sync: a private Mosquitto, the reference cloud in this process, and a
hall daemon (in-process) wired to both. Nothing touches the machine's own broker."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from tests.broker import Broker
from tests.conftest import Api, free_port, make_tokens, running_hall


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.kill()


@pytest.fixture
async def cloud(broker: Broker) -> AsyncIterator[CloudSim]:
    sim = CloudSim(broker.url, secret=b"test-secret", resend_s=1.0)
    task = asyncio.create_task(sim.logic.run())
    await asyncio.wait_for(sim._connected.wait(), 10)
    yield sim
    await stop_task(task, "the reference cloud's MQTT session")


async def stop_task(task: asyncio.Task[None], what: str, timeout: float = 20.0) -> None:
    """Cancel a helper's task and wait for it, but not for ever: a task that ignores its
    cancellation fails the test with the place it is stuck, instead of hanging the suite
    until pytest-timeout (which shows threads, not coroutines)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        stack = io.StringIO()
        task.print_stack(file=stack)
        raise AssertionError(f"{what} did not stop within {timeout} s of being cancelled:\n"
                             + stack.getvalue())


def cloud_cfg(cfg: HallConfig, url: str, **cloud: object) -> HallConfig:
    return dataclasses.replace(
        cfg, cloud=dataclasses.replace(cfg.cloud, mqtt_url=url, receipts=True, **cloud))


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def synced_hall(tmp_path: Path, demo_cfg: HallConfig, broker: Broker
                      ) -> AsyncIterator[Api]:
    data_dir = tmp_path / "data"
    async with running_hall(cloud_cfg(demo_cfg, broker.url), data_dir,
                            make_tokens(data_dir)) as api:
        yield api


SECRET = b"shared-review-secret"  # the review system's HMAC key in the HTTP-only tests


@pytest.fixture
async def review_cloud() -> AsyncIterator[tuple[CloudSim, str]]:
    """The reference cloud's review endpoint alone, over real HTTP (no MQTT)."""
    sim = CloudSim(None, SECRET, timeout_hold_s=1.5)
    runner = web.AppRunner(sim.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield sim, f"http://127.0.0.1:{port}"
    await runner.cleanup()
