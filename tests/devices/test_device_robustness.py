"""Device faults found in review, each against the simulators over real ptys and sockets:
a ticket called off after a print timeout, a printer that is connected but silent, a late
status answer, content a screen cannot take, a short power blip, a three-line screen, the
health and bad-frame log lines, and a printer that stops reading."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from controller.config import HallConfig
from controller.devices.manager import DeviceManager
from controller.devices.sim.devices import SimPrinter, SimTextScreen
from firmware_bridges import keypad
from tests.devices.conftest import DeviceHall, device_list, running_device_hall, until

PRINTER = [d for d in device_list() if d["id"] == "printer"]
KP1 = {"id": "kp1", "profile": "caller-keypad-ff68", "port": "dev/bus1", "address": 1,
       "window": 1}
SCR1 = {"id": "scr1", "profile": "generic-ht1-screen", "port": "dev/bus1", "address": 21,
        "window": 1}


def manager() -> DeviceManager:
    """The device manager of the one daemon a test runs (for its links' counters)."""
    from controller.devices.manager import _RUNNING

    [m] = list(_RUNNING.values())
    return m


async def _events(h: DeviceHall, kind: str) -> list[dict[str, Any]]:
    status, body = await h.api.call("GET", "/api/events?after=0&limit=1000",
                                    h.api.tokens.supervisor)
    assert status == 200
    return [e for e in body["events"] if e["type"] == kind]


async def _voided(h: DeviceHall) -> dict[str, str]:
    return {e["data"]["ticket_id"]: e["data"]["reason"] for e in await _events(h, "ticket.voided")}


async def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Like `until`, for an async check."""
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)
    return value


def _printed(printer: SimPrinter, number: str) -> int:
    return sum(1 for p in printer.printed if (number, True) in p.lines)


# ---- 1. a print that timed out is called off ---------------------------------------------


async def test_a_ticket_voided_after_a_print_timeout_is_never_printed(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    async with running_device_hall(tmp_path, demo_cfg, PRINTER) as h:
        await h.all_online()
        printer: SimPrinter = h.sim.devices["printer"]
        printer.status_delay = 0.9  # slow, but within its 1 s reply timeout
        tickets = await asyncio.gather(*(h.api.issue("B") for _ in range(10)))

        async def accounted() -> bool:
            voided = await _voided(h)
            return all(t["id"] in voided or _printed(printer, t["number"]) for t in tickets)

        await _wait(accounted, 20, "every ticket printed or voided")
        await asyncio.sleep(2.5)  # more than one more job: a called-off one would print now
        voided = await _voided(h)
        assert voided, "the burst should outlast the print timeout of the last tickets"
        for t in tickets:
            times = _printed(printer, t["number"])
            if t["id"] in voided:
                assert times == 0, f"{t['number']} was voided and printed"
            else:
                assert times == 1, f"{t['number']} printed {times} times"


# ---- 2. a printer that is offline is not tried ------------------------------------------


async def test_no_print_is_tried_while_the_printer_is_offline(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    async with running_device_hall(tmp_path, demo_cfg, PRINTER) as h:
        await h.all_online()
        printer: SimPrinter = h.sim.devices["printer"]
        printer.silent = True  # the TCP link stays up; the status is never answered
        for _ in range(4):  # tried while it still counts as online: those are voided
            t = await h.api.issue("B")
            await _wait(functools.partial(_settled, h, t["id"]), 6, "the try to print")
            if (await h.devices())["printer"]["status"] == "offline":
                break
        assert (await h.devices())["printer"]["status"] == "offline"
        before = await _voided(h)
        standing = [await h.api.issue("B") for _ in range(3)]
        await asyncio.sleep(3.0)
        voided = await _voided(h)
        assert voided == before, "a ticket was tried and voided with the printer offline"
        for t in standing:
            _, body = await h.api.call("GET", f"/api/tickets/{t['id']}", h.api.tokens.supervisor)
            assert body["status"] == "waiting"
        assert (await h.devices())["printer"]["unprinted"] == 3


async def _settled(h: DeviceHall, ticket_id: str) -> bool:
    return ticket_id in await _voided(h) or (await h.devices())["printer"]["status"] == "offline"


# ---- 3. a late status answer does not shift the next paper checks ------------------------


async def test_a_late_status_answer_does_not_hide_a_paper_out(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    async with running_device_hall(tmp_path, demo_cfg, PRINTER) as h:
        await h.all_online()
        printer: SimPrinter = h.sim.devices["printer"]
        printer.late_once = 1.4  # past the 1 s reply timeout: "paper ok", late
        first = await h.api.issue("B")
        await _wait(lambda: _has_void(h, first["id"]), 5, "the first ticket voided")
        await asyncio.sleep(0.8)  # the late answer has come and waits in the buffer
        printer.paper_out = True
        second = await h.api.issue("B")
        reason = await _wait(lambda: _has_void(h, second["id"]), 6,
                             "the ticket printed on an empty roll to be voided")
        assert "paper out" in reason
        assert _printed(printer, second["number"]) == 0
        assert (await h.devices())["printer"]["paper"] == "out"


async def _has_void(h: DeviceHall, ticket_id: str) -> str | None:
    return (await _voided(h)).get(ticket_id)


# ---- 4. content a screen cannot take degrades that screen only ---------------------------


async def _call_by_key(h: DeviceHall) -> None:
    await h.api.window(1, "open")
    ticket = await h.api.issue("A")
    h.sim.devices["kp1"].press(keypad.Key.CALL)

    async def serving() -> bool:
        _, body = await h.api.call("GET", "/api/windows")
        win = next(w for w in body["windows"] if w["number"] == 1)
        return bool(win["current"]) and win["current"]["id"] == ticket["id"]

    await _wait(serving, 5, "window 1 to call by its keypad")


async def test_a_character_the_card_lacks_degrades_only_that_screen(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    cfg = dataclasses.replace(demo_cfg, hall_name="口腔𬌗学服务大厅")
    strip = {"id": "strip485", "profile": "onbon-bx6-rs485", "port": "dev/bus1",
             "address": 3, "role": "hall_strip"}
    async with running_device_hall(tmp_path, cfg, [KP1, SCR1, strip]) as h:
        await _wait(lambda: _statuses(h, kp1="online", scr1="online", strip485="degraded"), 5,
                    "keypad and screen online, the strip degraded")
        dev = (await h.devices())["strip485"]
        assert "𬌗" in dev["last_error"]
        await until(lambda: "口腔□学服务大厅" in h.sim.shown("strip485"), 3,
                    "the strip with a placeholder")
        await _call_by_key(h)
        assert (await h.devices())["kp1"]["status"] == "online"


async def test_a_line_too_long_for_one_frame_is_cut(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    cfg = dataclasses.replace(demo_cfg, hall_name="长" * 200)
    strip = {"id": "strip", "profile": "generic-ht1-screen", "port": "dev/bus1",
             "address": 22, "role": "hall_strip"}
    async with running_device_hall(tmp_path, cfg, [KP1, strip]) as h:
        await _wait(lambda: _statuses(h, kp1="online", strip="degraded"), 5,
                    "the keypad online, the strip degraded")
        screen: SimTextScreen = h.sim.devices["strip"]
        await until(lambda: screen.lines.get(0, "").startswith("欢迎光临长长"), 3, "the cut line")
        assert len(screen.lines[0].encode("gb18030")) <= 253
        await _call_by_key(h)


async def _statuses(h: DeviceHall, **want: str) -> bool:
    devices = await h.devices()
    return all(devices[k]["status"] == v for k, v in want.items())


# ---- 5. a short blip: the device is sent its content again ------------------------------


async def test_a_screen_blank_after_a_short_blip_is_sent_its_content_again(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    async with running_device_hall(tmp_path, demo_cfg, [SCR1]) as h:
        await h.all_online()
        await until(lambda: "暂停服务" in h.sim.shown("scr1"), 3, "the screen's content")
        screen: SimTextScreen = h.sim.devices["scr1"]
        health = manager().devices["scr1"].health
        screen.silent = True
        await until(lambda: health.misses >= 1, 3, "a missed poll")
        screen.lines.clear()  # it restarted blank
        screen.silent = False
        await until(lambda: health.misses == 0, 3, "the screen answering again")
        assert health.status == "online"  # it never went offline
        await until(lambda: "暂停服务" in h.sim.shown("scr1"), 3, "the content sent again")


# ---- 6. health changes and bad frames are logged ----------------------------------------


async def test_health_changes_and_bad_frames_are_logged(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    scr2 = {"id": "scr2", "profile": "generic-ht1-screen", "port": "dev/bus1", "address": 22,
            "window": 2}
    with capture_logs() as logs:
        async with running_device_hall(tmp_path, demo_cfg, [SCR1, scr2]) as h:
            await h.all_online()
            h.sim.devices["scr1"].silent = True
            h.sim.devices["scr2"].garbage = True
            await _wait(lambda: _statuses(h, scr1="offline", scr2="degraded"), 6,
                        "one silent, one babbling")
            await asyncio.sleep(2.5)  # more bad answers: one line for them, not one each
            h.sim.devices["scr1"].silent = False
            await _wait(lambda: _statuses(h, scr1="online"), 5, "scr1 back")
            bad = manager().devices["scr2"].health.bad_frames
    changes = [(e["device"], e["from"], e["to"]) for e in logs
               if e["event"] == "device_status_changed"]
    assert ("scr1", "online", "offline") in changes
    assert ("scr1", "offline", "online") in changes
    assert ("scr2", "online", "degraded") in changes
    offline = next(e for e in logs if e["event"] == "device_status_changed"
                   and e["device"] == "scr1" and e["to"] == "offline")
    assert offline["reason"] == "no answer" and offline["log_level"] == "warning"
    lines = [e for e in logs if e["event"] == "bad_frame" and e.get("device") == "scr2"]
    assert bad >= 3 and len(lines) == 1, (bad, lines)
    assert lines[0]["reason"] and lines[0]["count"] == 1


async def test_unasked_bytes_are_counted_and_logged_for_the_bus(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    with capture_logs() as logs:
        async with running_device_hall(tmp_path, demo_cfg, [SCR1]) as h:
            await h.all_online()
            bus = manager().links["bus:dev/bus1"]
            for _ in range(5):  # between polls (one landing in an exchange is the device's)
                h.sim.buses["dev/bus1"].port.write(b"\x00noise\x00")
                await asyncio.sleep(0.3)
                if getattr(bus, "unasked_bytes", 0):
                    break
            assert getattr(bus, "unasked_bytes", 0) >= 7
    lines = [e for e in logs if e["event"] == "bad_frame" and e.get("bus") == "dev/bus1"]
    assert lines and lines[0]["count"] >= 1 and lines[0]["reason"]


def test_bad_frame_lines_are_rate_limited_with_the_count_since_the_last() -> None:
    from controller.devices.health import Health

    now = [1000.0]
    health = Health(device="scr9")
    health.frames_log.clock = lambda: now[0]
    with capture_logs() as logs:
        health.bad_frame("CRC mismatch")
        for _ in range(4):
            now[0] += 1
            health.bad_frame("CRC mismatch", 2)
        now[0] += health.frames_log.interval
        health.bad_frame("bad address")
    lines = [(e["device"], e["reason"], e["count"]) for e in logs if e["event"] == "bad_frame"]
    assert lines == [("scr9", "CRC mismatch", 1), ("scr9", "bad address", 9)]
    assert health.bad_frames == 10


# ---- 7. a three-line screen clears the lines that dropped off ---------------------------


async def test_a_three_line_screen_clears_the_line_that_dropped_off(
        tmp_path: Path, demo_cfg: HallConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.devices.config import profiles

    known = profiles()
    base = known["generic-ht1-screen"]
    monkeypatch.setitem(known, "ht1-three-lines", dataclasses.replace(
        base, name="ht1-three-lines", display={**base.display, "lines": 3}))
    item = {**SCR1, "profile": "ht1-three-lines"}
    async with running_device_hall(tmp_path, demo_cfg, [item]) as h:
        await h.all_online()
        screen: SimTextScreen = h.sim.devices["scr1"]
        await h.api.window(1, "open")
        await until(lambda: screen.lines.get(2), 3, "the idle screen's third line")
        ticket = await h.api.issue("A")
        await h.api.window(1, "call-next")
        await until(lambda: screen.lines.get(1) == f"请{ticket['number']}号办理", 3, "the call")
        await until(lambda: screen.lines.get(2) == "", 3, "the third line cleared")


# ---- a printer that stops reading ---------------------------------------------------------


async def test_a_printer_that_stops_reading_is_reconnected(
        demo_cfg: HallConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.devices import printer as printer_mod
    from controller.devices.config import profiles
    from controller.devices.runtime import Device
    from tests.devices.conftest import with_devices

    monkeypatch.setattr(printer_mod, "DRAIN_TIMEOUT_S", 0.3, raising=False)
    entry = with_devices(demo_cfg, PRINTER).devices[0]
    device = Device.of(entry, profiles()[entry.profile])
    opened: list[StuckWriter] = []

    async def opener() -> tuple[asyncio.StreamReader, Any]:
        writer = StuckWriter()
        opened.append(writer)
        return asyncio.StreamReader(), writer

    link = printer_mod.Printer(device, opener)
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: opened, 2, "the first connection")
        await until(lambda: len(opened) >= 2, 3, "a reconnect after the printer stopped reading")
        assert opened[0].aborted
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class StuckWriter:
    """A writer whose peer stopped reading: drain() never returns."""

    def __init__(self) -> None:
        self.aborted = False
        self.transport = self

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        await asyncio.Event().wait()

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass
