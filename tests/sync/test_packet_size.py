"""A broker with a small maximum packet size: the hall cuts its batches to fit.

An MQTT 5 broker announces its Maximum Packet Size in the CONNACK and drops a client that
sends a bigger packet (Mosquitto's `max_packet_size`; managed clouds have 128-256 KB
limits). paho does not enforce it, so a batch over the limit would cost a reconnect, and
the same batch would go again after every reconnect: the hall would never sync again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.sync.mqtt_client import Client
from tests.broker import Broker
from tests.conftest import make_tokens, running_hall
from tests.sync.conftest import cloud_cfg, wait_until
from tests.sync.load import morning, open_windows

pytestmark = pytest.mark.timeout(120)

LIMIT = 6000  # bytes a packet may have: about twenty ticket events


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """This module's broker (the conftest's `cloud` connects to it too)."""
    b = Broker(tmp_path / "broker", extra=f"max_packet_size {LIMIT}\n")
    b.start()
    yield b
    b.kill()


async def test_the_client_reads_the_brokers_limit(broker: Broker) -> None:
    async with Client("127.0.0.1", broker.port,
                      protocol=aiomqtt.ProtocolVersion.V5) as client:
        assert client.max_packet_size == LIMIT


async def test_batches_fit_the_brokers_maximum_packet_size(
        tmp_path: Path, demo_cfg: HallConfig, broker: Broker,
        cloud: CloudSim) -> None:
    data_dir = tmp_path / "data"
    async with running_hall(cloud_cfg(demo_cfg, broker.url), data_dir,
                            make_tokens(data_dir)) as api:
        await open_windows(api)
        await morning(api, 120, concurrency=8)
        _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
        last = int(body["last_seq"])
        await wait_until(lambda: cloud.halls.get("demo-330100") is not None
                         and cloud.halls["demo-330100"].contiguous >= last, 60,
                         "every event through the small broker")
        _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
        link = body["links"][0]
        assert link["connects"] == 1, link  # never dropped for a packet too large
        record = cloud.halls["demo-330100"]
        batches = [b - a + 1 for a, b in record.batches]  # events in each batch
    assert [e["seq"] for e in record.applied] == list(range(1, last + 1))
    assert max(batches) < 200  # cut well below batch_max_events
    assert sum(batches) >= last
