"""A catalog update from the cloud (over a real Mosquitto, from the reference cloud)
changes what the kiosk's search offers at once, and a restart keeps it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.daemon.run import serve
from tests.broker import Broker
from tests.conftest import Api, free_port, make_tokens, wait_healthy
from tests.sync.conftest import cloud_cfg, wait_until

NEW_ITEM = {
    "code": "330100-CRJ-009", "name": "出入境记录查询", "parent": "330100-CRJ",
    "case_type": "instant", "ways": ["自助办", "马上办"],
    "materials": [{"name": "居民身份证", "originals": 1}],
}


async def _codes(api: Api, q: str) -> list[str]:
    status, body = await api.call("GET", f"/api/items?q={q}")
    assert status == 200
    return [i["code"] for i in body["items"]]


async def test_a_catalog_update_changes_the_kiosk_without_a_restart_and_survives_one(
        tmp_path: Path, demo_cfg: HallConfig, broker: Broker, cloud: CloudSim) -> None:
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    cfg = cloud_cfg(demo_cfg, broker.url)

    async def running() -> tuple[asyncio.Task[None], asyncio.Event, str]:
        port, stop = free_port(), asyncio.Event()
        task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
        await wait_healthy(f"http://127.0.0.1:{port}")
        return task, stop, f"http://127.0.0.1:{port}"

    task, stop, base = await running()
    async with aiohttp.ClientSession() as session:
        api = Api(base, session, tokens)
        assert await _codes(api, "crjjlcx") == []
        assert "330100-CRJ-004" in await _codes(api, "wltwtxz")
        await wait_until(lambda: demo_cfg.hall_id in cloud.halls
                         and cloud.halls[demo_cfg.hall_id].status == "online", 10, "online")
        await cloud.push(demo_cfg.hall_id, "catalog.update", {
            "version": 7, "items": [NEW_ITEM], "remove": ["330100-CRJ-004"]}, "cat-7")
        await wait_until(lambda: "cat-7" not in cloud.pending, 10, "the ack")
        assert await _codes(api, "crjjlcx") == ["330100-CRJ-009"]
        assert await _codes(api, "wltwtxz") == []
        status, ticket = await api.call("POST", "/api/tickets", tokens.kiosk,
                                        {"item_code": "330100-CRJ-009"})
        assert status == 201 and ticket["category"] == "F"  # inherited from its parent
        # A bad item is refused by the hall, naming the key; nothing changes.
        await cloud.push(demo_cfg.hall_id, "catalog.update", {"version": 8, "items": [
            {**NEW_ITEM, "code": "X-1", "materials": [{"name": "表", "originals": -1}]}]},
            "cat-8")
        await wait_until(lambda: "cat-8" not in cloud.pending, 10, "the rejection")
        assert await _codes(api, "crjjlcx") == ["330100-CRJ-009"]
    stop.set()
    await asyncio.wait_for(task, 20)
    rejected = cloud.acks["cat-8"]
    assert (rejected["result"], rejected["reason"]) == ("rejected", "bad_field")
    assert "body.items[0].materials[0].originals" in rejected["detail"]

    task, stop, base = await running()
    async with aiohttp.ClientSession() as session:
        api = Api(base, session, tokens)
        assert await _codes(api, "crjjlcx") == ["330100-CRJ-009"]
        status, body = await api.call("GET", "/api/items?q=crj")
        assert body["catalog_version"] == 7
    stop.set()
    await asyncio.wait_for(task, 20)
