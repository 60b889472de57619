"""The device network end to end, over real ptys and sockets against the simulators:
calls reach the screens, keys call, evaluators rate, the kiosk prints, a card swipe gives
an elderly citizen the green channel and leaves no ID number anywhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from controller.config import HallConfig
from controller.core.identity import check_digit
from controller.devices.sim.devices import SimKeypad
from firmware_bridges import idcard, keypad
from tests.devices.conftest import DeviceHall, until

ELDER_ID = "11010519491231002X"  # born 1949-12-31, valid check digit


def _valid(number17: str) -> str:
    return number17 + check_digit(number17)


YOUNG_ID = _valid("11010519900307123")


async def _events(h: DeviceHall, kind: str) -> list[dict[str, Any]]:
    status, body = await h.api.call("GET", "/api/events?after=0&limit=1000",
                                    h.api.tokens.supervisor)
    assert status == 200
    return [e for e in body["events"] if e["type"] == kind]


async def _window(h: DeviceHall, n: int) -> dict[str, Any]:
    _, body = await h.api.call("GET", "/api/windows")
    return next(w for w in body["windows"] if w["number"] == n)


async def test_all_devices_come_online(device_hall: DeviceHall) -> None:
    await device_hall.all_online()


async def test_call_next_reaches_window_screen_keypad_and_hall_strip(
        device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    assert "暂停服务" in h.sim.shown("scr1")  # closed until the clerk opens it
    ticket = await h.api.issue("A")
    await h.api.window(1, "open")
    status, _ = await h.api.window(1, "call-next")
    assert status == 200
    number = ticket["number"]
    await until(lambda: f"请{number}号办理" in h.sim.shown("scr1"), what="window 1 screen")
    await until(lambda: number in h.sim.shown("strip"), what="hall strip")
    await until(lambda: h.sim.shown("kp1").startswith(number[1:]), what="keypad digits")
    devices = await h.devices()
    assert f"请{number}号办理" in " ".join(devices["scr1"]["content"])
    assert number in devices["strip"]["content"][0]
    assert "暂停服务" in h.sim.shown("scr2")  # window 2 was not touched


async def test_keypad_press_calls_the_next_ticket(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(2, "open")
    ticket = await h.api.issue("A")
    kp: SimKeypad = h.sim.devices["kp2"]
    kp.press(keypad.Key.CALL)
    win = await until_window_serving(h, 2, ticket["id"])
    assert win["current"]["number"] == ticket["number"]
    await until(lambda: f"请{ticket['number']}号办理" in h.sim.shown("scr2"), what="screen 2")
    await until(lambda: kp.acked >= 1, what="the host's echo of the key frame")
    called = await _events(h, "ticket.called")
    assert called[-1]["data"]["window"] == 2


async def until_window_serving(h: DeviceHall, n: int, ticket_id: str) -> dict[str, Any]:
    import asyncio
    import time

    deadline = time.monotonic() + 5
    while True:
        win = await _window(h, n)
        if win["current"] and win["current"]["id"] == ticket_id:
            return win
        assert time.monotonic() < deadline, f"window {n} never called {ticket_id}"
        await asyncio.sleep(0.02)


async def test_pause_key(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(1, "open")
    h.sim.devices["kp1"].press(keypad.Key.PAUSE)
    await until(lambda: "暂停服务" in h.sim.shown("scr1"), what="paused screen")


async def test_evaluator_press_records_an_evaluation(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(1, "open")
    ticket = await h.api.issue("A")
    await h.api.window(1, "call-next")
    await h.api.window(1, "complete")
    h.sim.devices["ev1"].press(1)  # the 5-key evaluator's first key: 非常满意
    import asyncio
    import time

    deadline = time.monotonic() + 5
    while not (recorded := await _events(h, "evaluation.recorded")):
        assert time.monotonic() < deadline, "no evaluation recorded"
        await asyncio.sleep(0.02)
    data = recorded[0]["data"]
    assert (data["level"], data["channel"], data["ticket_id"]) == (5, "keypad", ticket["id"])


async def test_kiosk_ticket_prints_with_its_number(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.issue("B")
    second = await h.api.issue("B")
    printer = h.sim.devices["printer"]
    await until(lambda: len(printer.printed) == 2, what="two printed tickets")
    last = printer.printed[-1]
    assert (second["number"], True) in last.lines
    assert "你前面还有 1 人在等待" in last.text()
    assert "社保医保" in last.text() and last.cut
    assert last.qr and last.qr[0].endswith(f"/api/display/tickets/{second['id']}")


async def test_a_ticket_whose_print_fails_is_voided_and_never_called(
        device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    h.sim.devices["printer"].paper_out = True
    lost = await h.api.issue("C")
    import asyncio
    import time

    deadline = time.monotonic() + 5
    while not (voided := await _events(h, "ticket.voided")):
        assert time.monotonic() < deadline, "ticket not voided"
        await asyncio.sleep(0.02)
    assert voided[0]["data"]["ticket_id"] == lost["id"]
    h.sim.devices["printer"].paper_out = False
    nxt = await h.api.issue("C")
    assert nxt["number"] == "C002"  # the number of the lost ticket is not reused
    await h.api.window(7, "open")
    _, body = await h.api.window(7, "call-next")
    assert body["ticket"]["id"] == nxt["id"]
    devices = await h.devices()
    assert devices["printer"]["paper"] == "ok"


async def test_idcard_swipe_green_channel_and_no_id_anywhere(
        device_hall: DeviceHall, capfd: pytest.CaptureFixture[str]) -> None:
    h = device_hall
    await h.all_online()
    reader = h.sim.readers["reader"]
    reader.place(idcard.base_info_block("王老伯", "1", "01", "19491231", "北京市东城区某胡同1号",
                                        ELDER_ID, "北京市公安局东城分局", "20150101", "长期",
                                        photo=b"PHOTO" * 204 + b"PHOT"))
    await until(lambda: len(h.sim.devices["printer"].printed) >= 1, what="green ticket printed")
    _, queue = await h.api.call("GET", "/api/queue")
    issued = await _events(h, "ticket.issued")
    assert issued[0]["data"]["channel"] == "idcard"
    assert issued[0]["data"]["priority"] == "green"
    printed = h.sim.devices["printer"].printed[0]
    assert "绿色通道" in printed.text()
    reader.remove()
    await until(lambda: reader.reads >= 1 and reader.card is None, what="card removed")
    import asyncio

    await asyncio.sleep(0.05)
    reader.place(idcard.base_info_block("李青年", "1", "01", "19900307", "北京市", YOUNG_ID))
    await until(lambda: len(h.sim.devices["printer"].printed) >= 2, what="second ticket")
    issued = await _events(h, "ticket.issued")
    assert issued[1]["data"].get("priority") is None
    # no ID number anywhere: database (with its WAL), the logs, any frame sent to a device
    await h.api.window(1, "open")  # one more commit so the WAL holds everything
    needles = [ELDER_ID, YOUNG_ID, ELDER_ID[-8:], "王老伯", "19491231"[2:] + ELDER_ID[14:]]
    blobs = b"".join(p.read_bytes() for p in h.data_dir.iterdir() if p.is_file())
    for needle in needles[:3]:
        assert needle.encode() not in blobs
        assert needle.encode("utf-16-le") not in blobs
    out, err = capfd.readouterr()
    for needle in needles:
        assert needle not in out + err
    sent = b"".join(reader.sent) + bytes(h.sim.devices["printer"].raw)
    for needle in needles:
        for enc in ("ascii", "utf-16-le", "gb18030"):
            try:
                assert needle.encode(enc) not in sent
            except UnicodeEncodeError:
                pass
    rows = sqlite3.connect(h.data_dir / "hall.sqlite3").execute(
        "SELECT data FROM events").fetchall()
    assert not any(ELDER_ID in str(r) for r in rows)
    devices = await h.devices()
    assert ELDER_ID not in str(devices)


async def test_people_counter_readings(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.sim.devices["counter"].set_counts(70000, 12)
    import asyncio
    import time

    deadline = time.monotonic() + 6
    while True:
        readings = await _events(h, "counter.reading")
        if readings and readings[-1]["data"].get("in_total") == 70000:
            break
        assert time.monotonic() < deadline, (await h.devices())["counter"]
        await asyncio.sleep(0.05)
    assert readings[-1]["data"]["out_total"] == 12
    assert (await h.devices())["counter"]["counts"] == {"in": 70000, "out": 12}


async def test_recall_sends_the_number_again(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.api.window(1, "open")
    ticket = await h.api.issue("A")
    await h.api.window(1, "call-next")
    screen = h.sim.devices["scr1"]
    await until(lambda: f"请{ticket['number']}号办理" in h.sim.shown("scr1"), what="the call")
    shows = sum(1 for _, raw in screen.log if "请".encode("gb18030") in raw)
    status, _ = await h.api.window(1, "recall")
    assert status == 200
    await until(lambda: sum(1 for _, raw in screen.log if "请".encode("gb18030") in raw) > shows,
                what="the number sent again on recall")


async def test_people_counter_on_modbus_rtu(device_hall: DeviceHall) -> None:
    h = device_hall
    await h.all_online()
    await h.sim.devices["counter-rtu"].set_counts(5, 3)
    import asyncio
    import time

    deadline = time.monotonic() + 6
    while True:
        readings = [e for e in await _events(h, "counter.reading")
                    if e["data"]["counter"] == "counter-rtu"]
        if readings and readings[-1]["data"].get("in_total") == 5:
            break
        assert time.monotonic() < deadline, (await h.devices())["counter-rtu"]
        await asyncio.sleep(0.05)
    assert readings[-1]["data"]["out_total"] == 3


async def test_a_swiped_card_is_sealed_for_a_real_name_report(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    """With an evaluation URL and real-name reports on, the swipe's ID number is sealed for
    the ticket's report (docs/haochaping.md), and still lies nowhere in clear."""
    import dataclasses

    from controller.store.sealed import SealedIdentities
    from tests.devices.conftest import device_list, running_device_hall

    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, evaluation_url="http://127.0.0.1:9/evaluations"))
    items = [d for d in device_list() if d["id"] in ("printer", "reader")]
    async with running_device_hall(tmp_path, cfg, items) as h:
        await h.all_online()
        h.sim.readers["reader"].place(idcard.base_info_block(
            "王老伯", "1", "01", "19491231", "北京市东城区某胡同1号", ELDER_ID))
        await until(lambda: len(h.sim.devices["printer"].printed) >= 1, what="ticket printed")
        [issued] = await _events(h, "ticket.issued")
        store = await SealedIdentities.open(h.data_dir)
        try:
            assert await store.count() == 1  # sealed before the ticket was printed
            held = await store.unseal(issued["data"]["ticket_id"])
            assert held is not None and (held.number, held.name) == (ELDER_ID, "王老伯")
        finally:
            await store.close()
        blobs = b"".join(p.read_bytes() for p in h.data_dir.iterdir() if p.is_file())
        for needle in (ELDER_ID, "王老伯"):
            assert needle.encode() not in blobs and needle.encode("utf-16-le") not in blobs
            assert needle not in str(await h.devices())


async def test_a_swiped_card_is_reported_by_name_then_forgotten(
        tmp_path: Path, demo_cfg: HallConfig) -> None:
    """End to end, through the devices and the reference review endpoint over real HTTP:
    the swipe's ticket is served and rated; the report carries the card's ID number and
    name; once acknowledged, nothing of them is left."""
    import asyncio
    import dataclasses

    from aiohttp import web

    from controller.cloudsim.server import CloudSim
    from controller.store.sealed import SealedIdentities
    from tests.conftest import free_port
    from tests.devices.conftest import device_list, running_device_hall
    from tests.unit.test_protocol_schemas import check

    sim = CloudSim(None, None)
    runner = web.AppRunner(sim.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, evaluation_url=f"http://127.0.0.1:{port}/evaluations"))
    items = [d for d in device_list() if d["id"] in ("printer", "reader")]
    try:
        async with running_device_hall(tmp_path, cfg, items) as h:
            await h.all_online()
            h.sim.readers["reader"].place(idcard.base_info_block(
                "王老伯", "1", "01", "19491231", "北京市东城区某胡同1号", ELDER_ID))
            await until(lambda: len(h.sim.devices["printer"].printed) >= 1, what="printed")
            await h.api.window(1, "open")
            status, body = await h.api.window(1, "call-next")
            assert body["ticket"]["channel"] == "idcard", body
            await h.api.window(1, "complete", {"case_no": "330100202611270099"})
            status, rated = await h.api.call(
                "POST", "/api/evaluations", h.api.tokens.supervisor,
                {"case_no": "330100202611270099", "level": 5, "channel": "pad"})
            assert status == 201, rated
            await until(lambda: str(rated["id"]) in sim.evaluations, what="the report")
            report = sim.evaluations[str(rated["id"])]
            assert (report["certkeyGOV"], report["userName"]) == (ELDER_ID, "王老伯")
            check(report, "review-report.json")
            store = await SealedIdentities.open(h.data_dir)
            try:
                for _ in range(100):
                    if await store.count() == 0:
                        break
                    await asyncio.sleep(0.05)
                assert await store.count() == 0
            finally:
                await store.close()
    finally:
        await runner.cleanup()
