"""The daemon `kill -9`ed while event batches are on their way to the cloud.

The daemon is a real process (`hallctl run`) with `[cloud]` pointing at a private
Mosquitto and receipts on; the reference cloud runs in this process. Tickets are issued
without pause, the daemon is killed with batches in flight, restarted on the same data
directory, and the load goes on a little. Then the cloud must hold every event 1..last
exactly once and in order, and anything it was sent twice must be a true repeat: the same
id with the same payload, dropped by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.cloudsim.server import CloudSim, HallRecord
from controller.config import DEFAULT_CONFIG
from tests.broker import Broker
from tests.conftest import Api, DaemonProcess, free_port, make_tokens
from tests.sync.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HALL = "demo-330100"
CATEGORIES = "ABCDEFGH"  # F has the smallest quota, 150: 8 x 150 tickets at most
MAX_TICKETS = 1000
KILL_AFTER_RECEIVED = 100  # events the cloud has stored before the kill
AHEAD = 200  # the load runs at most this many tickets ahead of the cloud


def cloud_config(tmp_path: Path, broker_url: str) -> Path:
    """The demo hall with its `[cloud]` table; small batches, so that several are in flight."""
    path = tmp_path / "hall.toml"
    path.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8")
                    + f'\n[cloud]\nmqtt_url = "{broker_url}"\nreceipts = true\n'
                    "batch_max_events = 20\n", encoding="utf-8")
    return path


def record_deliveries(cloud: CloudSim) -> list[dict[str, Any]]:
    """Every event the cloud is handed, repeats included (it keeps only the first)."""
    seen: list[dict[str, Any]] = []
    store = cloud._store_event

    def recording(record: HallRecord, event: dict[str, Any]) -> None:
        seen.append(json.loads(json.dumps(event)))
        store(record, event)

    cloud._store_event = recording  # type: ignore[method-assign]
    return seen


class Load:
    """Workers issuing tickets until a limit or until the daemon stops answering, kept at
    most AHEAD tickets ahead of what the cloud has stored, so that the uplink is busy (and
    the load not over) whenever the test chooses to kill."""

    def __init__(self, api: Api, cloud: CloudSim) -> None:
        self.api = api
        self.cloud = cloud
        self.next = 0
        self.issued: list[str] = []  # ids of tickets answered 201
        self.failures = 0
        self.killed = False

    def _too_far_ahead(self) -> bool:
        return not self.killed and len(self.issued) - self.cloud.received > AHEAD

    async def worker(self, limit: int) -> None:
        while self.next < limit:
            while self._too_far_ahead():
                await asyncio.sleep(0.005)
            i = self.next
            self.next += 1
            try:
                ticket = await self.api.issue(CATEGORIES[i % len(CATEGORIES)])
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.failures += 1
                return
            self.issued.append(ticket["id"])

    async def run(self, limit: int, concurrency: int = 8) -> None:
        await asyncio.gather(*(self.worker(limit) for _ in range(concurrency)))


async def sync_link(api: Api) -> dict[str, Any]:
    status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    assert status == 200, body
    return body["links"][0]  # type: ignore[no-any-return]


async def hall_events(api: Api) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        after = out[-1]["seq"] if out else 0
        status, body = await api.call("GET", f"/api/events?after={after}&limit=1000",
                                      api.tokens.supervisor)
        assert status == 200, body
        if not body["events"]:
            return out
        out += body["events"]


def contiguous(cloud: CloudSim) -> int:
    record = cloud.halls.get(HALL)
    return record.contiguous if record else 0


async def test_kill9_mid_batch_loses_nothing(tmp_path: Path, broker: Broker,
                                            cloud: CloudSim) -> None:
    deliveries = record_deliveries(cloud)
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    config = cloud_config(tmp_path, broker.url)
    first = DaemonProcess(data_dir, config, free_port(), tmp_path / "daemon-1.log")
    second = DaemonProcess(data_dir, config, free_port(), tmp_path / "daemon-2.log")
    try:
        await first.started()
        async with aiohttp.ClientSession() as session:
            api = Api(first.base, session, tokens)
            await wait_until(lambda: cloud.halls.get(HALL) is not None
                             and cloud.halls[HALL].status == "online", 15, "the hall online")
            load = Load(api, cloud)
            running = asyncio.create_task(load.run(MAX_TICKETS))
            deadline = asyncio.get_running_loop().time() + 60
            while True:  # kill once the cloud has a good part and more is on its way
                link = await sync_link(api)
                if cloud.received >= KILL_AFTER_RECEIVED and link["backlog"] > 0:
                    break
                assert not running.done(), f"the load ended before the kill: {link}"
                assert asyncio.get_running_loop().time() < deadline, f"no progress: {link}"
                await asyncio.sleep(0.01)
            first.kill9()
            load.killed = True
            at_kill = contiguous(cloud)
            await asyncio.wait_for(running, 15)
            assert load.failures > 0, "the kill did not interrupt the load"
        failures_at_kill = load.failures
        before_restart = len(load.issued)
        assert before_restart >= KILL_AFTER_RECEIVED, before_restart

        await second.started()
        async with aiohttp.ClientSession() as session:
            api = Api(second.base, session, tokens)
            load.api = api
            more = load.next + 100
            await load.run(more)
            assert load.failures == failures_at_kill
            assert len(load.issued) == before_restart + 100
            status, health = await api.call("GET", "/healthz")
            assert status == 200, health
            last = int(health["last_seq"])

            await wait_until(lambda: contiguous(cloud) >= last, 60,
                             f"the cloud to reach seq {last} (at the kill: {at_kill})")
            deadline = asyncio.get_running_loop().time() + 30
            while (link := await sync_link(api))["backlog"] != 0:
                assert asyncio.get_running_loop().time() < deadline, link
                await asyncio.sleep(0.05)
            assert link["state"] == "connected", link
            ours = await hall_events(api)
    finally:
        for d in (first, second):
            if d.proc is not None and d.proc.poll() is None:
                with contextlib.suppress(Exception):
                    d.proc.kill()
                    d.proc.wait(10)

    # Nothing missing, nothing extra, in order in effect: the cloud applied 1..last.
    record = cloud.halls[HALL]
    assert [e["seq"] for e in record.applied] == list(range(1, last + 1))
    assert record.held == {}
    assert cloud.received == last

    # The same events as the hall's own log, id for id and payload for payload.
    assert [e["seq"] for e in ours] == list(range(1, last + 1))
    for mine, theirs in zip(ours, record.applied, strict=True):
        assert (mine["id"], mine["type"], mine["data"]) == (
            theirs["id"], theirs["type"], theirs["data"]), (mine, theirs)

    # Every ticket the hall answered 201 for, before the kill or after, reached the cloud.
    sent_tickets = {e["data"]["ticket_id"] for e in record.events.values()
                    if e["type"] == "ticket.issued"}
    assert set(load.issued) <= sent_tickets

    # Re-deliveries are only true repeats, each dropped by its id.
    first_seen: dict[str, str] = {}
    ids_of_seq: dict[int, str] = {}
    repeats = 0
    for event in deliveries:
        payload = json.dumps(event, sort_keys=True)
        if event["id"] in first_seen:
            repeats += 1
            assert first_seen[event["id"]] == payload, "one id, two payloads"
        else:
            first_seen[event["id"]] = payload
        assert ids_of_seq.setdefault(event["seq"], event["id"]) == event["id"], \
            f"seq {event['seq']} sent under two ids"
    assert repeats == cloud.duplicates
    assert len(deliveries) == last + cloud.duplicates
