"""A demo hall reporting to the reference cloud's review endpoint (the pattern of
tests/sync/test_review_uplink.py), and the MQTT fixtures of tests/sync for the catalog
command."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.daemon.run import serve
from tests.conftest import Api, free_port, make_tokens, wait_healthy
from tests.sync.conftest import broker, cloud, synced_hall  # noqa: F401  (fixtures)

SECRET = b"case-review-secret"


@pytest.fixture
async def review_cloud() -> AsyncIterator[CloudSim]:
    sim = CloudSim(None, SECRET)
    runner = web.AppRunner(sim.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sim.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield sim
    await runner.cleanup()


@pytest.fixture
async def reporting_hall(tmp_path: Path, demo_cfg: HallConfig, review_cloud: CloudSim
                         ) -> AsyncIterator[Api]:
    secret_file = tmp_path / "review.secret"
    secret_file.write_bytes(SECRET)
    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, evaluation_url=review_cloud.base + "/evaluations",  # type: ignore[attr-defined]
        secret_file=secret_file, evaluation_timeout_s=2.0))
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir, (1, 2, 4, 15))
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session:
            yield Api(f"http://127.0.0.1:{port}", session, tokens)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
