"""Shared fixtures: the demo hall's config, a daemon in this process, a daemon as a process.

Both daemons are the real thing on a free port of 127.0.0.1 with their own data directory;
nothing here depends on services already running on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.config import DEFAULT_CONFIG, HallConfig, load_config
from controller.daemon.run import serve
from controller.store.tokens import create_token

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def demo_cfg() -> HallConfig:
    """The demo hall without its devices: a test that wants devices wires its own
    simulators on free ports (tests/devices), so no test reaches for the demo's fixed
    ports or retries links to hardware that is not there."""
    return dataclasses.replace(load_config(DEFAULT_CONFIG), devices=())


@dataclass
class Tokens:
    kiosk: str
    supervisor: str
    admin: str
    clerk: dict[int, str] = field(default_factory=dict)
    pad: dict[int, str] = field(default_factory=dict)


def slot_holding_now(cfg: HallConfig) -> float:
    """An appointment slot start whose check-in window holds the present and whose
    business day is today's: the slot starts 5 minutes from now, or began 5 minutes ago
    near the numbering reset, when a slot starting later would belong to the next
    business day. Within two minutes of the reset the test is skipped."""
    from controller.core.clock import business_day

    now = time.time()
    day = business_day(now, cfg.day)
    if business_day(now + 120, cfg.day) != day:
        pytest.skip("the business day turns over within two minutes")
    return now + 300 if business_day(now + 300, cfg.day) == day else now - 300


def demo_hall_with_devices(tmp: Path, devices_toml: str) -> Path:
    """The demo hall's files copied into `tmp`, its [[devices]] replaced by `devices_toml`
    (the demo's fixed device ports may be busy on a shared machine): the hall file."""
    for f in DEFAULT_CONFIG.parent.iterdir():
        if f.is_file():
            shutil.copy(f, tmp / f.name)
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    hall = tmp / "hall.toml"
    hall.write_text(text[: text.index("# ---- Devices")] + devices_toml, encoding="utf-8")
    return hall


def make_tokens(data_dir: Path, clerk_windows: tuple[int, ...] = (1, 2)) -> Tokens:
    def make(role: str, window: int | None = None) -> str:
        return create_token(data_dir, role, window)[1]

    return Tokens(make("kiosk"), make("supervisor"), make("admin"),
                  {w: make("clerk", w) for w in clerk_windows},
                  {w: make("pad", w) for w in clerk_windows})


@dataclass
class Api:
    """A client of a running hall over real HTTP."""

    base: str
    session: aiohttp.ClientSession
    tokens: Tokens

    def auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, token: str | None = None,
                   json: Any = None, headers: dict[str, str] | None = None,
                   data: bytes | None = None) -> tuple[int, Any]:
        h = self.auth(token) | (headers or {})
        async with self.session.request(method, self.base + path, json=json, data=data,
                                        headers=h) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body

    async def issue(self, category: str = "A", **extra: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/api/tickets", self.tokens.kiosk,
                                       {"category": category, **extra})
        assert status == 201, body
        return body  # type: ignore[no-any-return]

    async def window(self, number: int, action: str, body: Any = None,
                     token: str | None = None) -> tuple[int, Any]:
        return await self.call("POST", f"/api/windows/{number}/{action}",
                               token or self.tokens.supervisor, body)


async def wait_healthy(base: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(base + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base} did not become healthy")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_hall(cfg: HallConfig, data_dir: Path, tokens: Tokens,
                       port: int | None = None) -> AsyncIterator[Api]:
    """The daemon of `cfg` on `data_dir` running in this event loop, stopped cleanly on
    exit (so a test can start it again on the same directory, and port, to restart it)."""
    port = port or free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base)
        async with aiohttp.ClientSession() as session:
            yield Api(base, session, tokens)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def hall(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[Api]:
    """The demo hall's daemon running in this event loop, with tokens of every role."""
    data_dir = tmp_path / "data"
    async with running_hall(demo_cfg, data_dir, make_tokens(data_dir)) as api:
        yield api


@dataclass
class DaemonProcess:
    """`hallctl run` as a real child process, which a test may SIGTERM or kill -9."""

    data_dir: Path
    config: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "run", "--config", str(self.config),
             "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}",
             "--no-devices"],
            stdout=log, stderr=log, env=env, cwd=REPO,
        )
        log.close()

    async def started(self) -> None:
        self.start()
        deadline = time.monotonic() + 15.0
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:  # it died: say why, do not wait out the clock
                raise RuntimeError(f"hallctl run exited with {self.proc.returncode}:\n"
                                   + self.log_text()[-2000:])
            try:
                await wait_healthy(self.base, timeout=0.5)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def daemon_process(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A not-yet-started daemon process on the demo hall; call `await d.started()`."""
    d = DaemonProcess(tmp_path / "data", DEFAULT_CONFIG, free_port(), tmp_path / "daemon.log")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        with contextlib.suppress(Exception):
            d.proc.kill()
            d.proc.wait(10)
