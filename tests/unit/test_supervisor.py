"""The supervisor: a failing part is restarted with capped exponential backoff, the others
keep running, and stop() cancels exactly the parts it is asked to.

Backoff delays are checked exactly by giving the supervisor module a recording `sleep`
and a jitter of 1.0; one test also runs with real (small) delays end to end.
"""

from __future__ import annotations

import asyncio
import random
import types
from collections.abc import Callable
from typing import Any

import pytest

from controller.daemon import supervisor as supervisor_module
from controller.daemon.supervisor import Supervisor

pytestmark = pytest.mark.timeout(30)


class RecordingAsyncio(types.SimpleNamespace):
    """`asyncio` as the supervisor module sees it, with `sleep` recorded and instant."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingAsyncio:
    fake = RecordingAsyncio()
    monkeypatch.setattr(supervisor_module, "asyncio", fake)
    monkeypatch.setattr(random, "uniform", lambda a, b: 1.0)
    return fake


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.001)


class Flaky:
    """A part that fails `failures` times, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.healthy = asyncio.Event()

    async def __call__(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError(f"boom {self.starts}")
        self.healthy.set()
        await asyncio.Event().wait()


class Steady:
    """A part that counts its own iterations until cancelled."""

    def __init__(self) -> None:
        self.ticks = 0
        self.starts = 0

    async def __call__(self) -> None:
        self.starts += 1
        while True:
            self.ticks += 1
            await asyncio.sleep(0.001)


async def test_a_failing_part_is_restarted_with_doubling_capped_delays(
        recorded: RecordingAsyncio) -> None:
    sup = Supervisor(base_backoff=0.1, max_backoff=0.5)
    flaky = Flaky(failures=6)
    sup.start("flaky", flaky)
    try:
        await asyncio.wait_for(flaky.healthy.wait(), 5)
        part = sup.parts["flaky"]
        assert flaky.starts == 7
        assert part.restarts == 6
        assert part.last_error == "RuntimeError: boom 6"
        assert recorded.delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5, 0.5])
        assert part.task is not None and not part.task.done()
    finally:
        await sup.stop()


async def test_jitter_stays_within_twenty_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = RecordingAsyncio()
    monkeypatch.setattr(supervisor_module, "asyncio", fake)
    sup = Supervisor(base_backoff=1.0, max_backoff=1.0)
    flaky = Flaky(failures=50)
    sup.start("flaky", flaky)
    try:
        await asyncio.wait_for(flaky.healthy.wait(), 5)
    finally:
        await sup.stop()
    assert len(fake.delays) == 50
    assert all(0.8 <= d <= 1.2 for d in fake.delays)
    assert len(set(fake.delays)) > 1  # it is jitter, not a constant


async def test_a_part_that_returns_is_restarted_and_its_backoff_resets(
        recorded: RecordingAsyncio) -> None:
    calls: list[str] = []

    async def part() -> None:
        calls.append("run")
        n = len(calls)
        if n in (1, 2):
            raise ValueError(f"fail {n}")
        if n == 3:
            return  # a part that ends is a bug too: start it again
        if n == 4:
            raise ValueError("fail after a clean run")
        await asyncio.Event().wait()

    sup = Supervisor(base_backoff=0.1, max_backoff=10.0)
    sup.start("p", part)
    try:
        await wait_until(lambda: len(calls) == 5)
        assert sup.parts["p"].restarts == 4
        # 1st failure 0.1, 2nd 0.2, the return resets (0.1), then a 1st failure again (0.1).
        assert recorded.delays == pytest.approx([0.1, 0.2, 0.1, 0.1])
        assert sup.parts["p"].last_error == "ValueError: fail after a clean run"
    finally:
        await sup.stop()


async def test_other_parts_keep_running_while_one_keeps_failing() -> None:
    """Real delays, small: the steady part is never restarted and never stops ticking."""
    sup = Supervisor(base_backoff=0.01, max_backoff=0.04)
    flaky = Flaky(failures=5)
    steady = Steady()
    sup.start("steady", steady)
    sup.start("flaky", flaky)
    try:
        await wait_until(lambda: steady.ticks >= 1)
        ticks_before = steady.ticks
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.wait_for(flaky.healthy.wait(), 5)
        elapsed = loop.time() - t0
        # Five delays of at least 0.8 * (0.01, 0.02, 0.04, 0.04, 0.04).
        assert elapsed >= 0.8 * 0.15
        assert sup.parts["flaky"].restarts == 5
        assert steady.starts == 1 and sup.parts["steady"].restarts == 0
        ticks_mid = steady.ticks
        assert ticks_mid > ticks_before
        await wait_until(lambda: steady.ticks > ticks_mid)
        steady_task = sup.parts["steady"].task
        assert steady_task is not None and not steady_task.done()
    finally:
        await sup.stop()


async def test_stop_cancels_only_the_named_parts() -> None:
    sup = Supervisor()
    a, b = Steady(), Steady()
    sup.start("a", a)
    sup.start("b", b)
    await wait_until(lambda: a.ticks > 0 and b.ticks > 0)
    await sup.stop(["a", "not-a-part"])
    task_a, task_b = sup.parts["a"].task, sup.parts["b"].task
    assert task_a is not None and task_a.cancelled()
    assert task_b is not None and not task_b.done()
    ticks = b.ticks
    await wait_until(lambda: b.ticks > ticks)
    await sup.stop()
    assert task_b.cancelled()


async def test_stop_while_a_part_waits_out_its_backoff(recorded: RecordingAsyncio) -> None:
    sup = Supervisor(base_backoff=3600.0, max_backoff=3600.0)

    async def fails() -> None:
        raise OSError("serial port gone")

    real_sleep_started = asyncio.Event()

    async def long_sleep(delay: float) -> None:
        recorded.delays.append(delay)
        real_sleep_started.set()
        await asyncio.sleep(delay)

    recorded.sleep = long_sleep  # type: ignore[method-assign]
    sup.start("port", fails)
    await asyncio.wait_for(real_sleep_started.wait(), 5)
    await asyncio.wait_for(sup.stop(), 5)  # does not wait an hour
    task = sup.parts["port"].task
    assert task is not None and task.cancelled()
    assert recorded.delays == [3600.0]
