"""The hall keeps serving while the broker is away, and the cloud ends up with every event
exactly once in effect and in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from tests.broker import Broker
from tests.conftest import Api, make_tokens, running_hall
from tests.sync.conftest import cloud_cfg, wait_until
from tests.sync.load import morning, open_windows


async def last_seq(api: Api) -> int:
    status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    assert status == 200
    return int(body["last_seq"])


async def wait_backlog_empty(api: Api, timeout: float = 30.0) -> None:
    """/api/sync reports the link connected with nothing left unconfirmed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
        link = body["links"][0]
        if link["state"] == "connected" and link["backlog"] == 0:
            return
        assert asyncio.get_running_loop().time() < deadline, f"sync never settled: {link}"
        await asyncio.sleep(0.1)


def assert_complete_and_ordered(cloud: CloudSim, hall_id: str, last: int) -> None:
    """Every event exactly once in effect, and in order in effect: the receiver applies in
    seq order. Arrival order may differ after a broker crash (a batch the broker had
    persisted can come before an earlier one it lost, which the hall re-sends from the
    receipt cursor): that is the transport's, and the receipts repair it."""
    record = cloud.halls[hall_id]
    assert sorted(e["seq"] for e in record.events.values()) == list(range(1, last + 1))
    assert [e["seq"] for e in record.applied] == list(range(1, last + 1))
    assert record.held == {}
    assert len({e["id"] for e in record.applied}) == last


async def test_broker_stopped_30s_under_load(synced_hall: Api, broker: Broker,
                                             cloud: CloudSim) -> None:
    await open_windows(synced_hall)
    await morning(synced_hall, 50)
    broker.stop()
    outage = asyncio.get_running_loop().time()
    answered = await morning(synced_hall, 500)  # the hall answers every request meanwhile
    assert answered > 500
    status, body = await synced_hall.call("GET", "/api/sync", synced_hall.tokens.supervisor)
    assert body["links"][0]["connected"] is False
    assert body["links"][0]["backlog"] > 0
    await asyncio.sleep(max(0.0, 30 - (asyncio.get_running_loop().time() - outage)))
    broker.start()
    last = await last_seq(synced_hall)
    await wait_until(lambda: cloud.halls.get("demo-330100") is not None
                     and cloud.halls["demo-330100"].contiguous >= last, 60, "the cloud to catch up")
    assert_complete_and_ordered(cloud, "demo-330100", last)
    await wait_backlog_empty(synced_hall)


async def test_broker_killed_and_restarted_ten_times(synced_hall: Api, broker: Broker,
                                                     cloud: CloudSim) -> None:
    await open_windows(synced_hall)

    async def chaos() -> None:
        for _ in range(10):
            await asyncio.sleep(1.0)
            broker.kill()
            await asyncio.sleep(1.0)
            broker.start()

    load = asyncio.create_task(morning(synced_hall, 500, concurrency=4))
    await chaos()
    await load
    last = await last_seq(synced_hall)
    await wait_until(lambda: cloud.halls.get("demo-330100") is not None
                     and cloud.halls["demo-330100"].contiguous >= last, 90, "the cloud to catch up")
    assert_complete_and_ordered(cloud, "demo-330100", last)
    await wait_backlog_empty(synced_hall)


async def test_events_a_broker_lost_after_its_puback_are_sent_again_in_the_session(
        tmp_path: Path, demo_cfg: HallConfig, broker: Broker, cloud: CloudSim) -> None:
    """A broker can acknowledge a batch and then lose it (a crash before its periodic save,
    a full subscriber queue). The receiver then holds everything after the gap and its
    receipt stays put; after `receipt_wait_s` the hall sends again from the receipt,
    without waiting for a reconnect."""
    data_dir = tmp_path / "data"
    cfg = cloud_cfg(demo_cfg, broker.url, receipt_wait_s=0.5)
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        await open_windows(api)
        await morning(api, 20)
        first = await last_seq(api)
        await wait_until(lambda: cloud.halls.get("demo-330100") is not None
                         and cloud.halls["demo-330100"].contiguous >= first, 30, "the start")
        cloud.failure.drop_batches = 1
        await morning(api, 60, concurrency=4)
        last = await last_seq(api)
        await wait_until(lambda: cloud.halls["demo-330100"].contiguous >= last, 30,
                         "the lost batch sent again")
        assert cloud.dropped_batches == 1
        assert_complete_and_ordered(cloud, "demo-330100", last)
        await wait_backlog_empty(api)
        _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
        link = body["links"][0]
        assert link["connects"] == 1  # the same session repaired it
        assert link["receipt_resends"] >= 1
        assert link["receipt_cursor"] == last
