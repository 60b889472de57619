"""The caller keypad's transfer, evaluate and confirm keys, over a real pty through the
daemon: digits + TRANSFER transfers the current ticket to that window, EVALUATE prompts the
window's evaluator, a digit + CONFIRM abandons, suspends or calls back; a key that does
nothing shows E-- and beeps. A smaller hall than device_list(): one bus, two keypads and
one evaluator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import HallConfig
from controller.devices.sim.devices import SimEvaluator, SimKeypad
from firmware_bridges import keypad
from firmware_bridges.keypad import Key
from tests.devices.conftest import DeviceHall, running_device_hall, until

ITEMS = [
    {"id": "kp1", "profile": "caller-keypad-ff68", "port": "dev/bus", "address": 1, "window": 1},
    {"id": "kp2", "profile": "caller-keypad-ff68", "port": "dev/bus", "address": 2, "window": 2},
    {"id": "ev1", "profile": "evaluator-5key-ff68", "port": "dev/bus", "address": 11,
     "window": 1, "bad_reason": "E05"},
]


@pytest.fixture
async def hall(tmp_path: Path, demo_cfg: HallConfig) -> AsyncIterator[DeviceHall]:
    async with running_device_hall(tmp_path, demo_cfg, ITEMS) as h:
        await h.all_online()
        yield h


async def _ticket(h: DeviceHall, ticket_id: str) -> dict[str, Any]:
    status, body = await h.api.call("GET", f"/api/tickets/{ticket_id}", h.api.tokens.supervisor)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def _until_ticket(h: DeviceHall, ticket_id: str, status: str,
                        what: str) -> dict[str, Any]:
    """Polls the API (each poll awaits a request) until the ticket has `status`."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await _ticket(h, ticket_id))
        return bool(found["status"] == status)

    await _until_async(check, what)
    return found


async def _until_async(check: Any, what: str, timeout: float = 5.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _events(h: DeviceHall, kind: str) -> list[dict[str, Any]]:
    _, body = await h.api.call("GET", "/api/events?after=0&limit=1000", h.api.tokens.supervisor)
    return [e for e in body["events"] if e["type"] == kind]


async def _refused(kp: SimKeypad, what: str) -> None:
    beeps = kp.beeps
    await until(lambda: kp.digits.startswith("E--"), what=f"E-- after {what}")
    await until(lambda: kp.beeps > beeps, what=f"a beep after {what}")


async def test_digits_and_transfer_move_the_ticket_to_that_window(hall: DeviceHall) -> None:
    h = hall
    kp1: SimKeypad = h.sim.devices["kp1"]
    await h.api.window(1, "open")
    first = await h.api.issue("A")
    other = await h.api.issue("A")
    kp1.press(Key.CALL)
    await _until_ticket(h, first["id"], "called", "window 1 to call the first ticket")
    kp1.press(Key.TRANSFER, digits="12")  # typed 1 2, then TRANSFER: to window 12
    moved = await _until_ticket(h, first["id"], "waiting", "the transfer")
    assert moved["directed_window"] == 12
    last = moved["history"][-1]
    assert (last["event"], last["window"], last["to_window"], last["reason"]) == (
        "transferred", 1, 12, "窗口呼叫器转号")
    await until(lambda: kp1.digits == "--  12", what="the keypad showing the target window")
    # window 12 (which does not serve A) calls it: it was transferred there by name
    await h.api.window(12, "open")
    status, body = await h.api.window(12, "call-next")
    assert status == 200 and body["ticket"]["id"] == first["id"], body
    assert (await _events(h, "ticket.called"))[-1]["data"]["rule"] == "directed"
    assert (await _ticket(h, other["id"]))["status"] == "waiting"
    # the result goes away after the profile's result_ms (3 s): the digits come back
    await until(lambda: kp1.digits.strip() == "1", timeout=5,
                what="the keypad back to its waiting count")


async def test_a_transfer_the_hall_refuses_shows_an_error(hall: DeviceHall) -> None:
    h = hall
    kp1: SimKeypad = h.sim.devices["kp1"]
    await h.api.window(1, "open")
    ticket = await h.api.issue("A")
    kp1.press(Key.CALL)
    await _until_ticket(h, ticket["id"], "called", "the call")
    kp1.press(Key.TRANSFER, digits="99")  # no window 99
    await _refused(kp1, "a transfer to an unknown window")
    refusals = kp1.beeps
    kp1.press(Key.TRANSFER, digits="1")  # its own window
    await until(lambda: kp1.beeps > refusals, what="a second refusal")
    refusals = kp1.beeps
    kp1.press(Key.TRANSFER)  # no digits: no target
    await until(lambda: kp1.beeps > refusals, what="a third refusal")
    assert (await _ticket(h, ticket["id"]))["status"] == "called"
    assert not await _events(h, "ticket.transferred")


async def test_evaluate_key_prompts_the_window_evaluator(hall: DeviceHall) -> None:
    h = hall
    kp1: SimKeypad = h.sim.devices["kp1"]
    kp2: SimKeypad = h.sim.devices["kp2"]
    ev1: SimEvaluator = h.sim.devices["ev1"]
    await h.api.window(1, "open")
    kp1.press(Key.EVALUATE)  # nothing completed yet: nothing to rate
    await _refused(kp1, "evaluate with nothing to rate")
    assert ev1.beeps == 0
    ticket = await h.api.issue("A")
    await h.api.window(1, "call-next")
    await h.api.window(1, "complete")
    kp1.press(Key.EVALUATE)
    await until(lambda: ev1.beeps == 1, what="the evaluator's prompt (FUNC 0x03)")
    assert not await _events(h, "evaluation.recorded")  # the key records nothing
    ev1.press(2)  # the citizen rates: 满意
    await _until_async(lambda: _events(h, "evaluation.recorded"), "the rating")
    recorded = (await _events(h, "evaluation.recorded"))[0]["data"]
    assert (recorded["ticket_id"], recorded["level"]) == (ticket["id"], 4)
    kp1.press(Key.EVALUATE)  # rated already
    await _refused(kp1, "evaluate after the rating")
    assert ev1.beeps == 1
    # window 2 has no evaluator: its keypad beeps itself when there is something to rate
    await h.api.window(2, "open")
    await h.api.issue("A")
    await h.api.window(2, "call-next")
    await h.api.window(2, "complete")
    beeps = kp2.beeps
    kp2.press(Key.EVALUATE)
    await until(lambda: kp2.beeps > beeps, what="keypad 2's own beep")
    assert not kp2.digits.startswith("E")
    devices = await h.devices()
    assert devices["ev1"]["prompted"] == 1 and devices["kp2"]["prompted"] == 1


async def test_confirm_with_a_digit_abandons_suspends_and_calls_back(hall: DeviceHall) -> None:
    h = hall
    kp1: SimKeypad = h.sim.devices["kp1"]
    await h.api.window(1, "open")
    t1, t2, t3 = [await h.api.issue("A") for _ in range(3)]
    kp1.press(Key.CALL)
    await _until_ticket(h, t1["id"], "called", "t1 called")
    kp1.press(Key.CONFIRM, digit=2)  # 2 + CONFIRM: suspend
    await _until_ticket(h, t1["id"], "suspended", "t1 suspended")
    kp1.press(Key.CALL)
    await _until_ticket(h, t2["id"], "called", "t2 called")
    kp1.press(Key.CONFIRM, digit=1)  # 1 + CONFIRM: abandon (no-show)
    await _until_ticket(h, t2["id"], "no_show", "t2 abandoned")
    kp1.press(Key.CALL)
    await _until_ticket(h, t3["id"], "called", "t3 called")
    kp1.press(Key.CONFIRM, digit=2)
    await _until_ticket(h, t3["id"], "suspended", "t3 suspended")
    kp1.press(Key.CONFIRM, digit=3)  # 3 + CONFIRM: call back the last suspended: t3
    back = await _until_ticket(h, t3["id"], "called", "t3 called back")
    assert back["history"][-1]["event"] == "called_back" and back["window"] == 1
    assert (await _ticket(h, t1["id"]))["status"] == "suspended"
    kp1.press(Key.CONFIRM)  # no digit: nothing chosen
    await _refused(kp1, "confirm without a digit")
    refusals = kp1.beeps
    kp1.press(Key.CONFIRM, digit=7)  # a digit that means nothing
    await until(lambda: kp1.beeps > refusals, what="a refusal of 7 + CONFIRM")


def test_key_frame_with_typed_digits() -> None:
    raw = keypad.encode(keypad.KeypadFrame(1, keypad.FUNC_KEY, bytes([1, 2, Key.TRANSFER])))
    assert raw == bytes.fromhex("ff 68 05 05 68 01 04 01 02 13 1b 16")
    (frame,) = keypad.Decoder().feed(raw)
    press = keypad.interpret(frame)
    assert press is not None
    assert (press.key, press.digits, press.number, press.digit) == (Key.TRANSFER, (1, 2), 12, 2)
    plain = keypad.interpret(keypad.KeypadFrame(1, keypad.FUNC_KEY, bytes([Key.TRANSFER])))
    assert plain is not None and plain.number is None and plain.digit is None


def test_display_text_with_glyphs() -> None:
    glyphs = {"E": 0x0E, "-": 0x0B}
    raw = keypad.display_text(1, "E--", glyphs)
    # E - - then three blanks: CS = 1 + 2 + 0x0E + 0x0B + 0x0B + 3 * 0x0A = 0x45
    assert raw == bytes.fromhex("ff 68 08 08 68 01 02 0e 0b 0b 0a 0a 0a 45 16")
    (frame,) = keypad.Decoder().feed(raw)
    assert keypad.shown_digits(frame, glyphs) == "E--   "
    assert keypad.shown_digits(frame) == "???   "
    (frame,) = keypad.Decoder().feed(keypad.display_text(1, "E--"))  # a model without glyphs
    assert keypad.shown_digits(frame) == "      "


async def test_call_pressed_twice_at_once_calls_once(hall: DeviceHall) -> None:
    """A keypad re-sending a press whose echo it missed, or a finger that bounced: CALL
    twice would complete the citizen just called, unserved, and call the next one. The
    same key within bus.REPEAT_S is acknowledged and not acted on; later it is a press."""
    import asyncio

    from controller.devices import bus

    h = hall
    kp1: SimKeypad = h.sim.devices["kp1"]
    await h.api.window(1, "open")
    first = await h.api.issue("A")
    second = await h.api.issue("A")
    kp1.press(Key.CALL)
    kp1.press(Key.CALL)
    await _until_ticket(h, first["id"], "called", "the first call")
    await until(lambda: not kp1.pending, what="both presses read")
    await asyncio.sleep(0.3)
    assert (await _ticket(h, first["id"]))["status"] == "called"
    assert (await _ticket(h, second["id"]))["status"] == "waiting"
    assert len(await _events(h, "ticket.called")) == 1
    await asyncio.sleep(bus.REPEAT_S)
    kp1.press(Key.CALL)  # a real second press, later: the first is done, the next called
    await _until_ticket(h, second["id"], "called", "the second call")
    assert (await _ticket(h, first["id"]))["status"] == "completed"
