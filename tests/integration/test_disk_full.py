"""When the log's disk is full (here: the `[store] max_size_mb` cap, which SQLite enforces
exactly as a full disk), the hall refuses new commands with 507 `store_full`, records
nothing of them, keeps answering reads, and recovers once there is room. Nothing already
recorded is ever evicted to make room."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controller.config import HallConfig
from controller.config.model import StoreRules
from tests.conftest import make_tokens, running_hall


async def test_a_full_log_refuses_cleanly_and_recovers(tmp_path: Path,
                                                       demo_cfg: HallConfig) -> None:
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    small = dataclasses.replace(demo_cfg, store=StoreRules(max_size_mb=1))
    reason = "系统维护" * 50  # 200 characters: each pause is a large event
    async with running_hall(small, data_dir, tokens) as api:
        ticket = await api.issue("A")
        assert (await api.window(1, "open"))[0] == 200
        acknowledged, tickets_b = 2, 0
        for _ in range(5000):
            status, body = await api.window(1, "pause", {"reason": reason})
            if status != 200:
                break
            acknowledged += 1
        assert (status, body["error"]) == (507, "store_full"), body
        # still serving what it can: reads, health, and it keeps refusing cleanly
        status, queue = await api.call("GET", "/api/queue")
        assert status == 200
        assert queue["categories"][0]["waiting"][0]["id"] == ticket["id"]
        assert (await api.call("GET", "/healthz"))[0] == 200
        for _ in range(200):  # smaller records may still fit for a while, then not
            status, body = await api.call("POST", "/api/tickets", tokens.kiosk,
                                          {"category": "B"})
            if status != 201:
                break
            acknowledged += 1
            tickets_b += 1
        assert (status, body["error"]) == (507, "store_full")
        status, log = await api.call("GET", f"/api/events?after={acknowledged - 1}&limit=10",
                                     tokens.supervisor)
        assert [e["seq"] for e in log["events"]] == [acknowledged]  # nothing refused is there
    roomy = dataclasses.replace(demo_cfg, store=StoreRules(max_size_mb=64))
    async with running_hall(roomy, data_dir, tokens) as api:  # the operator made room
        status, body = await api.call("GET", f"/api/tickets/{ticket['id']}", tokens.kiosk)
        assert (status, body["number"]) == (200, "A001")
        # numbering goes on after the acknowledged tickets, none lost, none reused
        assert (await api.issue("B"))["number"] == f"B{tickets_b + 1:03d}"
        _, health = await api.call("GET", "/healthz")
        assert health["last_seq"] == acknowledged + 1
