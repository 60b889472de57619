"""A broker that refuses the hall's publishes: nothing is counted as delivered.

Mosquitto answers a QoS 1 publish its ACL denies with PUBACK reason code 0x87 (Not
authorized). aiomqtt 2.5 completes the publish anyway; before `mqtt_client.Client`
checked the code, the uplink's cursor moved past batches the cloud never got, and with
receipts off (the default) they were lost for good. Here the broker first refuses, then
is fixed (its ACL reloaded by SIGHUP, as an operator would), and every event arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.sync.mqtt_client import Client, PublishRefused
from tests.broker import Broker
from tests.conftest import make_tokens, running_hall
from tests.sync.conftest import wait_until

pytestmark = pytest.mark.timeout(90)

HALL = "demo-330100"
REFUSING = "topic read hall/+/events\ntopic readwrite hall/+/status\n" \
           "topic readwrite hall/+/commands\ntopic readwrite hall/+/acks\n" \
           "topic readwrite hall/+/receipts\n"
ALLOWING = "topic readwrite hall/#\n"


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    acl = tmp_path / "acl"
    acl.write_text(REFUSING)
    b = Broker(tmp_path / "broker", extra=f"acl_file {acl}\n")
    b.start()
    yield b, acl
    b.kill()


async def test_a_refused_publish_raises_and_a_successful_one_does_not(
        acl_broker: tuple[Broker, Path]) -> None:
    broker, _ = acl_broker
    async with Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5) as c:
        with pytest.raises(PublishRefused, match="Not authorized") as refused:
            await c.publish(f"hall/{HALL}/events", b"{}", qos=1)
        assert refused.value.code.value == 0x87
        # 0x10 No matching subscribers is a success code: nobody listens to status here.
        await c.publish(f"hall/{HALL}/status", b"{}", qos=1)
        # Concurrent publishes each get their own answer.
        results = await asyncio.gather(
            *(c.publish(f"hall/{HALL}/{leaf}", b"{}", qos=1)
              for leaf in ("events", "status", "events", "acks")), return_exceptions=True)
        assert [type(r).__name__ for r in results] == [
            "PublishRefused", "NoneType", "PublishRefused", "NoneType"]
        assert c._refused == {}  # nothing left behind


async def test_events_refused_by_the_broker_are_sent_again_once_it_accepts(
        tmp_path: Path, demo_cfg: HallConfig, acl_broker: tuple[Broker, Path]) -> None:
    broker, acl = acl_broker
    sim = CloudSim(broker.url, None)
    sim_task = asyncio.create_task(sim.logic.run())
    data_dir = tmp_path / "data"
    # Receipts off, as by default: the broker's PUBACK is all the hall goes by.
    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, mqtt_url=broker.url, receipts=False))
    try:
        await asyncio.wait_for(sim._connected.wait(), 10)
        async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
            for category in "ABCAB":
                await api.issue(category)

            async def link() -> dict[str, object]:
                _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
                return body["links"][0]

            for _ in range(200):
                now = await link()
                if now["last_error"]:
                    break
                await asyncio.sleep(0.05)
            assert "refused the publish" in str(now["last_error"])
            assert "Not authorized" in str(now["last_error"])
            assert now["backlog"] == 5  # not counted as delivered
            assert sim.halls.get(HALL) is None or not sim.halls[HALL].events

            acl.write_text(ALLOWING)
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGHUP)  # Mosquitto reloads its ACL file
            await wait_until(lambda: sim.halls.get(HALL) is not None
                             and sim.halls[HALL].contiguous >= 5, 60,
                             "the five events at the cloud")
            for _ in range(200):
                now = await link()
                if now["backlog"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert now["backlog"] == 0
            record = sim.halls[HALL]
            assert [e["seq"] for e in record.applied] == [1, 2, 3, 4, 5]
            assert [e["data"]["number"] for e in record.applied] == [
                "A001", "B001", "C001", "A002", "B002"]
    finally:
        sim_task.cancel()
        await asyncio.gather(sim_task, return_exceptions=True)


async def test_a_cancel_arriving_with_the_puback_is_not_lost() -> None:
    """On Python 3.11, asyncio.wait_for returns the result when the task is cancelled just
    as the awaited thing completes (gh-86296): aiomqtt's publish swallowed the shutdown's
    cancel when a PUBACK came in at that moment, the session published on, and the daemon
    never finished stopping (seen once in a full CI run). The client's wait keeps it."""
    client = Client("127.0.0.1", 1)  # never connected: only its wait is used
    loop = asyncio.get_running_loop()
    for _ in range(3):
        acked: asyncio.Future[None] = loop.create_future()
        waiting = asyncio.ensure_future(client._wait_for(acked, 10))
        await asyncio.sleep(0)
        acked.set_result(None)  # the PUBACK ...
        waiting.cancel()  # ... and the shutdown, in the same turn of the loop
        with pytest.raises(asyncio.CancelledError):
            await waiting
    timed_out = asyncio.ensure_future(client._wait_for(loop.create_future(), 0.01))
    with pytest.raises(aiomqtt.MqttError, match="timed out"):
        await timed_out


def test_no_asyncio_wait_for_in_the_daemon() -> None:
    """The same trap anywhere else: the daemon uses asyncio.timeout instead."""
    import re

    root = Path(__file__).resolve().parents[2]
    found = [f"{path.relative_to(root)}:{n}"
             for folder in ("controller", "firmware_bridges")
             for path in sorted((root / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bwait_for\(", line) and "def _wait_for" not in line]
    assert found == [], found
