"""The kiosk printer on a serial line (ESC/POS over a pty, as an RS-232 or USB-serial
printer): a kiosk ticket prints with its number, and paper out read back over the same
line voids the ticket, exactly as over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import HallConfig
from controller.devices.sim.devices import SimSerialPrinter
from firmware_bridges import escpos
from tests.devices.conftest import DeviceHall, running_device_hall, until

ITEMS = [{"id": "kiosk-printer", "profile": "escpos-80mm-serial", "port": "dev/printer"}]


@pytest.fixture
async def hall(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[DeviceHall]:
    async with running_device_hall(tmp_path, demo_cfg, ITEMS) as h:
        await h.all_online()
        yield h


async def _events(h: DeviceHall, kind: str) -> list[dict[str, Any]]:
    _, body = await h.api.call("GET", "/api/events?after=0&limit=1000", h.api.tokens.supervisor)
    return [e for e in body["events"] if e["type"] == kind]


async def test_kiosk_ticket_prints_over_serial(hall: DeviceHall) -> None:
    h = hall
    printer: SimSerialPrinter = h.sim.devices["kiosk-printer"]
    first = await h.api.issue("B")
    second = await h.api.issue("B")
    await until(lambda: len(printer.printed) == 2, what="two tickets printed over serial")
    assert (first["number"], True) in printer.printed[0].lines
    last = printer.printed[-1]
    assert (second["number"], True) in last.lines
    assert "你前面还有 1 人在等待" in last.text() and last.cut
    assert bytes(printer.raw).count(escpos.STATUS_PAPER) >= 2  # the sensor asked per ticket
    device = (await h.devices())["kiosk-printer"]
    assert (device["status"], device["paper"], device["printed"]) == ("online", "ok", 2)
    assert device["link"] == "dev/printer"


async def test_paper_out_over_serial_voids_the_ticket(hall: DeviceHall) -> None:
    h = hall
    printer: SimSerialPrinter = h.sim.devices["kiosk-printer"]
    printer.paper_out = True
    lost = await h.api.issue("C")
    voided: list[dict[str, Any]] = []

    async def void_seen() -> bool:
        voided[:] = await _events(h, "ticket.voided")
        return bool(voided)

    import asyncio
    import time

    deadline = time.monotonic() + 5
    while not await void_seen():
        assert time.monotonic() < deadline, "ticket not voided"
        await asyncio.sleep(0.02)
    assert voided[0]["data"]["ticket_id"] == lost["id"]
    assert "paper out" in voided[0]["data"]["reason"]
    assert not printer.printed
    assert (await h.devices())["kiosk-printer"]["paper"] == "out"
    printer.paper_out = False
    nxt = await h.api.issue("C")
    assert nxt["number"] == "C002"  # the lost number is not given out again
    await until(lambda: len(printer.printed) == 1, what="the next ticket printed")
    assert (nxt["number"], True) in printer.printed[0].lines
    await h.api.window(7, "open")
    _, body = await h.api.window(7, "call-next")
    assert body["ticket"]["id"] == nxt["id"]
