"""Faults: a port that disappears and comes back, a device that falls silent on a shared
bus, a TCP card restarted, a device answering garbage. Each time the rest keep working and
the device that returns shows the right content within 5 s."""

from __future__ import annotations

import time

from tests.devices.conftest import DeviceHall, until


async def _status(h: DeviceHall, dev: str) -> str:
    return (await h.devices())[dev]["status"]


async def until_status(h: DeviceHall, dev: str, status: str, timeout: float = 5.0) -> float:
    """Seconds it took for `dev` to reach `status` (fails after `timeout`)."""
    import asyncio

    start = time.monotonic()
    while (now := await _status(h, dev)) != status:
        assert time.monotonic() - start < timeout, f"{dev} is {now}, not {status}"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def _call(h: DeviceHall, window: int, category: str) -> str:
    ticket = await h.api.issue(category)
    status, body = await h.api.window(window, "call-next")
    assert status == 200 and body["ticket"]["id"] == ticket["id"], body
    return str(ticket["number"])


async def test_bus_port_closed_and_reopened(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    for w in (1, 3):
        await h.api.window(w, "open")
    bus = h.sim.buses["dev/bus1"]
    bus.port.close()
    await until_status(h, "scr1", "offline")
    await until_status(h, "kp1", "offline", 1.0)
    # the other bus and the network devices never stopped
    n3 = await _call(h, 3, "E")
    await until(lambda: f"请{n3}号办理" in h.sim.shown("scr3"), 1.0, "screen 3 during the outage")
    await until(lambda: n3 in h.sim.shown("strip"), 1.0, "the strip during the outage")
    n1 = await _call(h, 1, "A")  # called while window 1's screen is unreachable
    bus.port.reopen()
    started = time.monotonic()
    await until(lambda: f"请{n1}号办理" in h.sim.shown("scr1"), 5.0, "screen 1 after reopening")
    await until(lambda: h.sim.shown("kp1").startswith(n1[1:]), 5.0, "keypad 1 after reopening")
    await until_status(h, "scr1", "online", 5.0 - (time.monotonic() - started))
    assert time.monotonic() - started < 5.0
    assert await _status(h, "scr3") == "online"


async def test_silent_device_does_not_stop_its_bus(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    for w in (1, 2):
        await h.api.window(w, "open")
    scr1 = h.sim.devices["scr1"]
    scr1.silent = True
    await until_status(h, "scr1", "offline")
    n2 = await _call(h, 2, "A")
    t = time.monotonic()
    await until(lambda: f"请{n2}号办理" in h.sim.shown("scr2"), 1.0, "screen 2 while 1 is silent")
    assert time.monotonic() - t < 1.0
    assert await _status(h, "kp2") == "online" and await _status(h, "scr2") == "online"
    n1 = await _call(h, 1, "A")
    scr1.silent = False
    started = time.monotonic()
    await until(lambda: f"请{n1}号办理" in h.sim.shown("scr1"), 5.0, "screen 1 back")
    await until_status(h, "scr1", "online", 5.0)
    assert time.monotonic() - started < 5.0


async def test_tcp_card_restarted(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(1, "open")
    strip = h.sim.devices["strip"]
    await strip.stop()
    strip.card.areas.clear()  # a card's dynamic areas live in RAM: a restart forgets them
    await until_status(h, "strip", "offline")
    n1 = await _call(h, 1, "A")
    await until(lambda: f"请{n1}号办理" in h.sim.shown("scr1"), 1.0, "window screen meanwhile")
    await strip.start()
    started = time.monotonic()
    await until(lambda: n1 in h.sim.shown("strip"), 5.0, "strip content after restart")
    await until_status(h, "strip", "online", 5.0)
    assert time.monotonic() - started < 5.0


async def test_garbage_answers_mark_degraded_while_the_rest_work(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(1, "open")
    h.sim.devices["scr2"].garbage = True
    await until_status(h, "scr2", "degraded")
    devices = await h.devices()
    assert devices["scr2"]["last_error"] and devices["scr2"]["bad_frames"] >= 1
    n1 = await _call(h, 1, "A")
    await until(lambda: f"请{n1}号办理" in h.sim.shown("scr1"), 1.0, "screen 1 with 2 babbling")
    assert (await h.devices())["kp1"]["status"] == "online"
    h.sim.devices["scr2"].garbage = False
    await until_status(h, "scr2", "online", 5.0)


async def test_printer_garbage_status_voids_and_degrades(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    h.sim.devices["printer"].garbage = True
    ticket = await h.api.issue("D")
    import asyncio

    start = time.monotonic()
    while True:
        _, body = await h.api.call("GET", f"/api/tickets/{ticket['id']}", h.api.tokens.supervisor)
        if body["status"] == "expired":
            break
        assert time.monotonic() - start < 5, body
        await asyncio.sleep(0.02)
    assert (await h.devices())["printer"]["status"] == "degraded"
