"""Downlink commands from the reference cloud over a real Mosquitto: each acknowledged on the
acks topic with the right result, applied at most once (also across a daemon restart and
the cloud's own re-sends), and a malformed, unknown or out-of-date command never disturbs
the daemon.

Besides `cloud.acks` (the first ack per command id), a tap client subscribed to the acks
and commands topics sees every ack and every copy of a command the broker carried: acks
without a command id (a payload that is not JSON) and the second answer to a repeated id
are only visible there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.core.identity import check_digit, id_checksum_ok
from controller.sync.mqtt_client import Client
from tests.broker import Broker
from tests.conftest import Api, make_tokens, running_hall
from tests.sync.conftest import cloud_cfg, stop_task, wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")

HALL = "demo-330100"
ACKS = f"hall/{HALL}/acks"
COMMANDS = f"hall/{HALL}/commands"
PHONE = "13912345678"


def id_number(first17: str) -> str:
    """An ID number with its GB 11643 check digit."""
    number = first17 + check_digit(first17)
    assert id_checksum_ok(number)
    return number


ID_A = "11010519491231002X"
ID_B = id_number("33010219800101123")
BAD_ID = ID_A[:-1] + "1"  # the check digit is wrong


def ms(offset_s: float = 0.0) -> int:
    return int((time.time() + offset_s) * 1000)


def booking(appointment_id: str, identity: str = ID_A, start_in_s: float = 3600.0,
            category: str = "A") -> dict[str, Any]:
    return {"appointment_id": appointment_id, "category": category, "identity": identity,
            "slot_start": ms(start_in_s), "slot_end": ms(start_in_s + 1800)}


def command(command_id: str | None, kind: str, body: Any, **extra: Any) -> bytes:
    message: dict[str, Any] = {"v": 1, "kind": kind, "body": body, "issued_at_ms": ms()}
    if command_id is not None:
        message["id"] = command_id
    return json.dumps({**message, **extra}, ensure_ascii=False).encode()


# ---- a tap on the broker ---------------------------------------------------------------

@dataclass
class Tap:
    acks: list[dict[str, Any]] = field(default_factory=list)
    copies: dict[str, int] = field(default_factory=dict)  # command id -> publishes seen

    def of(self, command_id: str | None) -> list[dict[str, Any]]:
        return [a for a in self.acks if a.get("command_id") == command_id]


@pytest.fixture
async def tap(broker: Broker) -> AsyncIterator[Tap]:
    seen = Tap()
    ready = asyncio.Event()

    async def listen() -> None:
        async with Client("127.0.0.1", broker.port, identifier=f"tap-{uuid.uuid4()}",
                          protocol=aiomqtt.ProtocolVersion.V5) as client:
            await client.subscribe(ACKS, qos=1)
            await client.subscribe(COMMANDS, qos=1)
            ready.set()
            async for message in client.messages:
                payload = message.payload
                raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
                if message.topic.matches(ACKS):
                    seen.acks.append(json.loads(raw))
                    continue
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    command_id = json.loads(raw).get("id")
                    if isinstance(command_id, str):
                        seen.copies[command_id] = seen.copies.get(command_id, 0) + 1

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    yield seen
    await stop_task(task, "the test's MQTT tap")


async def acked(cloud: CloudSim, command_id: str, timeout: float = 15.0) -> dict[str, Any]:
    await wait_until(lambda: command_id in cloud.acks, timeout, f"the ack of {command_id}")
    return cloud.acks[command_id]


async def answers(tap: Tap, command_id: str | None, count: int,
                  timeout: float = 15.0) -> list[dict[str, Any]]:
    await wait_until(lambda: len(tap.of(command_id)) >= count, timeout,
                     f"{count} acks of {command_id}")
    return tap.of(command_id)


async def subscribed(cloud: CloudSim) -> None:
    """The hall's session is subscribed to its commands (an ack proves it): only then may
    a raw payload, which the cloud does not re-send, be pushed."""
    command_id = await cloud.push(HALL, "notice.withdraw", {"notice_id": "warm-up"})
    ack = await acked(cloud, command_id)
    assert ack["result"] == "rejected" and ack["reason"] == "notice_not_found", ack


async def appointments(api: Api) -> list[dict[str, Any]]:
    status, body = await api.call("GET", "/api/appointments", api.tokens.supervisor)
    assert status == 200, body
    return body["appointments"]  # type: ignore[no-any-return]


async def all_events(api: Api) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        status, body = await api.call("GET", f"/api/events?after={len(out)}&limit=1000",
                                      api.tokens.supervisor)
        assert status == 200, body
        out += body["events"]
        if len(out) >= body["last_seq"]:
            return out


async def link(api: Api) -> dict[str, Any]:
    status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    assert status == 200, body
    return body["links"][0]  # type: ignore[no-any-return]


async def still_serving(api: Api) -> None:
    status, body = await api.call("GET", "/healthz")
    assert status == 200 and body["status"] == "ok", body
    ticket = await api.issue("G")
    assert ticket["status"] == "waiting"


# ---- tests -----------------------------------------------------------------------------

async def test_appointment_create_applied_once(synced_hall: Api, cloud: CloudSim,
                                               tap: Tap) -> None:
    body = booking("apt-once")
    first = await acked(cloud, await cloud.push(HALL, "appointment.create", body,
                                                command_id="cmd-create-1"))
    assert first["result"] == "applied" and first["hall_id"] == HALL, first
    for _ in range(2):  # the same command id again: answered, not applied
        await cloud.push(HALL, "appointment.create", body, command_id="cmd-create-1")
    repeats = (await answers(tap, "cmd-create-1", 3))[1:]
    for ack in repeats:
        assert ack["result"] == "duplicate" and ack["first_result"] == "applied", ack

    # The same appointment under a new command id is a different, invalid command.
    other = await acked(cloud, await cloud.push(HALL, "appointment.create", booking("apt-once"),
                                                command_id="cmd-create-2"))
    assert other["result"] == "rejected" and other["reason"] == "duplicate_appointment", other

    found = await appointments(synced_hall)
    assert [(a["id"], a["status"], a["source"]) for a in found] == [
        ("apt-once", "booked", "cloud")]
    created = [e for e in await all_events(synced_hall) if e["type"] == "appointment.created"]
    assert len(created) == 1


async def test_malformed_commands_rejected_daemon_unaffected(synced_hall: Api, cloud: CloudSim,
                                                             tap: Tap) -> None:
    await subscribed(cloud)
    base = booking("apt-malformed")
    missing = {k: v for k, v in base.items() if k != "slot_end"}
    cases: list[tuple[str | None, bytes, str]] = [
        (None, b"this is not JSON {", "bad_json"),
        (None, b"\xff\xfe\x00garbage", "bad_json"),
        (None, b"[1, 2, 3]", "bad_json"),
        (None, command(None, "appointment.create", base), "missing_id"),
        ("x" * 64, command("x" * 65, "appointment.create", base), "missing_id"),
        ("m-version", command("m-version", "appointment.create", base, v=2), "bad_version"),
        ("m-no-version", json.dumps({"id": "m-no-version", "kind": "sms_ticket",
                                     "body": {}}).encode(), "bad_version"),
        ("m-body-list", command("m-body-list", "appointment.create", [base]), "bad_command"),
        ("m-body-str", command("m-body-str", "notice.publish", "text"), "bad_command"),
        ("m-no-kind", json.dumps({"v": 1, "id": "m-no-kind", "body": base}).encode(),
         "bad_command"),
        ("m-identity", command("m-identity", "appointment.create",
                               {**base, "identity": BAD_ID}), "bad_identity"),
        ("m-phone", command("m-phone", "sms_ticket", {"category": "B", "phone": "12345"}),
         "bad_identity"),
        ("m-missing", command("m-missing", "appointment.create", missing), "missing_field"),
        ("m-no-identity", command("m-no-identity", "appointment.create",
                                  {k: v for k, v in base.items() if k != "identity"}),
         "missing_field"),
        ("m-zoneless", command("m-zoneless", "appointment.create",
                               {**base, "slot_start": "2030-01-01T09:00:00"}), "bad_field"),
        ("m-category", command("m-category", "sms_ticket", {"category": 7, "phone": PHONE}),
         "bad_field"),
        ("m-huge", command("m-huge", "notice.publish", {"notice_id": "n", "text": "x" * 70000}),
         "too_large"),
    ]
    for expected_id, payload, reason in cases:  # raw: sent once, never re-sent
        before = len(tap.of(expected_id))
        await cloud.push(HALL, "raw", {}, raw=payload)
        ack = (await answers(tap, expected_id, before + 1))[-1]
        assert ack["result"] == "rejected" and ack["reason"] == reason, (payload[:80], ack)
        assert ack.get("detail"), ack

    # A rejected malformed command is not recorded, nothing was applied, the link held.
    events = await all_events(synced_hall)
    assert not [e for e in events if e["type"] == "appointment.created"]
    recorded = {e["data"]["command_id"] for e in events if e["type"].startswith("cloud.")}
    assert not [c for c in recorded if c.startswith("m-")], recorded
    state = await link(synced_hall)
    assert state["state"] == "connected" and state["connects"] == 1, state
    await still_serving(synced_hall)


async def test_unknown_kind_and_out_of_date(synced_hall: Api, cloud: CloudSim, tap: Tap) -> None:
    await subscribed(cloud)
    unknown = await acked(cloud, await cloud.push(HALL, "appointment.teleport", {"to": "moon"}))
    assert unknown["result"] == "rejected" and unknown["reason"] == "unknown_kind", unknown

    eight_days = 8 * 24 * 3600
    stale = await acked(cloud, await cloud.push(
        HALL, "appointment.create", booking("apt-stale"), command_id="cmd-stale",
        issued_at_ms=ms(-eight_days)))
    assert stale["result"] == "rejected" and stale["reason"] == "expired", stale
    # Recorded: the re-send is answered with the first outcome.
    await cloud.push(HALL, "appointment.create", booking("apt-stale"), command_id="cmd-stale")
    again = (await answers(tap, "cmd-stale", 2))[-1]
    assert again["result"] == "duplicate" and again["first_result"] == "rejected", again
    assert again["reason"] == "expired", again

    await cloud.push(HALL, "raw", {}, raw=command(
        "cmd-expires", "appointment.create", booking("apt-expires"), expires_at_ms=ms(-60)))
    expired = await acked(cloud, "cmd-expires")
    assert expired["result"] == "rejected" and expired["reason"] == "expired", expired

    # Not over-eager: six days old, or expiring later, is still applied.
    fresh = await acked(cloud, await cloud.push(
        HALL, "appointment.create", booking("apt-six-days"), issued_at_ms=ms(-6 * 24 * 3600)))
    assert fresh["result"] == "applied", fresh
    await cloud.push(HALL, "raw", {}, raw=command(
        "cmd-later", "appointment.create", booking("apt-later", ID_B), expires_at_ms=ms(600)))
    assert (await acked(cloud, "cmd-later"))["result"] == "applied"

    assert sorted(a["id"] for a in await appointments(synced_hall)) == [
        "apt-later", "apt-six-days"]
    await still_serving(synced_hall)


async def test_sms_ticket_answers_number_and_keeps_no_phone(
        synced_hall: Api, cloud: CloudSim, tap: Tap, tmp_path: Path) -> None:
    for _ in range(2):
        await synced_hall.issue("B")
    ack = await acked(cloud, await cloud.push(HALL, "sms_ticket",
                                              {"category": "B", "phone": PHONE}))
    assert ack["result"] == "applied", ack
    ticket = ack["ticket"]
    assert ticket["number"] == "B003" and ticket["category"] == "B", ticket
    assert ticket["waiting_ahead"] == 2 and ticket["status"] == "waiting", ticket
    assert isinstance(ticket["estimated_wait_min"], int | float)

    status, queue = await synced_hall.call("GET", "/api/queue")
    assert status == 200 and PHONE not in json.dumps(queue)
    assert PHONE not in json.dumps(ack)
    events = await all_events(synced_hall)
    issued = [e for e in events if e["type"] == "ticket.issued" and e["data"]["number"] == "B003"]
    assert len(issued) == 1 and issued[0]["data"]["channel"] == "sms"
    assert PHONE not in json.dumps(events, ensure_ascii=False)

    # Not in the uplink either, once it has all gone up.
    last = events[-1]["seq"]
    await wait_until(lambda: HALL in cloud.halls and cloud.halls[HALL].contiguous >= last, 20,
                     "the uplink")
    assert PHONE not in json.dumps(list(cloud.halls[HALL].events.values()))

    # Nor anywhere on disk: the database, its WAL and every other file of the data dir.
    data_dir = tmp_path / "data"
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith((".db", ".sqlite", ".sqlite3")) for p in files), files
    for path in files:
        content = path.read_bytes()
        assert PHONE.encode() not in content, path
        assert PHONE.encode("utf-16-le") not in content, path


async def test_sms_ticket_repeat_answers_the_same_ticket(synced_hall: Api, cloud: CloudSim,
                                                        tap: Tap) -> None:
    first = await acked(cloud, await cloud.push(HALL, "sms_ticket",
                                                {"category": "C", "phone": PHONE},
                                                command_id="cmd-sms"))
    assert first["result"] == "applied"
    await cloud.push(HALL, "sms_ticket", {"category": "C", "phone": PHONE}, command_id="cmd-sms")
    repeat = (await answers(tap, "cmd-sms", 2))[-1]
    assert repeat["result"] == "duplicate" and repeat["first_result"] == "applied", repeat
    assert repeat.get("ticket", {}).get("number") == first["ticket"]["number"], repeat


async def test_notices_and_appointment_cancel(synced_hall: Api, cloud: CloudSim) -> None:
    async def notices() -> dict[str, Any]:
        status, body = await synced_hall.call("GET", "/api/notices")
        assert status == 200, body
        return {n["id"]: n for n in body["notices"]}

    published = await acked(cloud, await cloud.push(
        HALL, "notice.publish", {"notice_id": "n-maint", "text": "今日下午系统维护"}))
    assert published["result"] == "applied", published
    end = (datetime.now(SHANGHAI) + timedelta(days=30)).replace(microsecond=0)
    until = await acked(cloud, await cloud.push(
        HALL, "notice.publish", {"notice_id": "n-until", "text": "医保窗口临时调整",
                                 "until": end.isoformat()}))
    assert until["result"] == "applied", until
    shown = await notices()
    assert shown["n-maint"]["text"] == "今日下午系统维护" and shown["n-maint"]["until"] is None
    assert shown["n-until"]["until"].startswith(end.isoformat()[:19])
    # A notice is about the coming months: an end years away is refused, with the reason.
    far = await acked(cloud, await cloud.push(
        HALL, "notice.publish", {"notice_id": "n-far", "text": "长期公告",
                                 "until": "2099-01-01T00:00:00+08:00"}))
    assert (far["result"], far["reason"]) == ("rejected", "notice_too_far"), far

    withdrawn = await acked(cloud, await cloud.push(HALL, "notice.withdraw",
                                                    {"notice_id": "n-maint"}))
    assert withdrawn["result"] == "applied", withdrawn
    assert list(await notices()) == ["n-until"]
    twice = await acked(cloud, await cloud.push(HALL, "notice.withdraw",
                                                {"notice_id": "n-maint"}))
    assert twice["result"] == "rejected" and twice["reason"] == "notice_not_found", twice

    assert (await acked(cloud, await cloud.push(
        HALL, "appointment.create", booking("apt-cancel", ID_B))))["result"] == "applied"
    cancel = await acked(cloud, await cloud.push(
        HALL, "appointment.cancel", {"appointment_id": "apt-cancel", "reason": "市民改期"}))
    assert cancel["result"] == "applied", cancel
    found = {a["id"]: a for a in await appointments(synced_hall)}
    assert found["apt-cancel"]["status"] == "cancelled"
    again = await acked(cloud, await cloud.push(
        HALL, "appointment.cancel", {"appointment_id": "apt-cancel"}))
    assert again["result"] == "rejected" and again["reason"] == "appointment_not_booked", again
    nowhere = await acked(cloud, await cloud.push(
        HALL, "appointment.cancel", {"appointment_id": "apt-nowhere"}))
    assert nowhere["result"] == "rejected", nowhere
    assert nowhere["reason"] == "appointment_not_found", nowhere


async def test_command_ids_persist_and_resends_apply_once(
        tmp_path: Path, demo_cfg: HallConfig, broker: Broker, cloud: CloudSim, tap: Tap) -> None:
    """Ids survive a restart; while the hall is away the cloud re-sends (every resend_s)
    and the broker queues every copy for the hall's persistent session: on its return
    the hall answers each copy, applying the command once."""
    cfg = cloud_cfg(demo_cfg, broker.url)
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    async with running_hall(cfg, data_dir, tokens):
        first = await acked(cloud, await cloud.push(HALL, "appointment.create",
                                                    booking("apt-old"), command_id="cmd-old"))
        assert first["result"] == "applied", first

    # The hall is down. An old id re-sent, and a new command the cloud keeps re-sending.
    await cloud.push(HALL, "appointment.create", booking("apt-old"), command_id="cmd-old")
    await cloud.push(HALL, "appointment.create", booking("apt-new", ID_B), command_id="cmd-new")
    await wait_until(lambda: tap.copies.get("cmd-new", 0) >= 3, 15,
                     "the cloud to re-send the un-acked command")
    assert "cmd-new" in cloud.pending

    async with running_hall(cfg, data_dir, tokens) as api:
        await wait_until(lambda: "cmd-new" not in cloud.pending and "cmd-old" not in cloud.pending,
                         20, "the hall to answer the queued commands")
        await wait_until(lambda: len(tap.of("cmd-new")) >= tap.copies["cmd-new"]
                         and len(tap.of("cmd-old")) >= tap.copies["cmd-old"], 20,
                         "an answer to every copy")
        old = tap.of("cmd-old")
        assert old[0]["result"] == "applied"
        assert all(a["result"] == "duplicate" and a["first_result"] == "applied"
                   for a in old[1:]) and len(old) >= 2, old
        new = tap.of("cmd-new")
        assert len(new) >= 3, new
        assert [a["result"] for a in new].count("applied") == 1 and new[0]["result"] == "applied"
        assert all(a["result"] == "duplicate" for a in new[1:]), new

        found = await appointments(api)
        assert sorted(a["id"] for a in found) == ["apt-new", "apt-old"]
        created = [e for e in await all_events(api) if e["type"] == "appointment.created"]
        assert len(created) == 2


async def _breaks_link(api: Api, cloud: CloudSim, command_id: str) -> None:
    """Waits for an ack of `command_id` or for the MQTT session to fall over, whichever
    comes first, then asks for the ack on a session that held."""
    deadline = asyncio.get_running_loop().time() + 15
    while command_id not in cloud.acks:
        state = await link(api)
        if state["last_error"] is not None or state["connects"] > 1:
            break
        assert asyncio.get_running_loop().time() < deadline, "neither an ack nor an error"
        await asyncio.sleep(0.05)
    state = await link(api)
    assert state["last_error"] is None and state["connects"] == 1, state
    ack = cloud.acks.get(command_id)
    assert ack is not None and ack["result"] == "rejected", ack


async def test_oversized_number_is_rejected_not_fatal(synced_hall: Api, cloud: CloudSim) -> None:
    await subscribed(cloud)
    huge = int("9" * 400)
    await cloud.push(HALL, "raw", {}, raw=command(
        "cmd-overflow", "notice.publish", {"notice_id": "n-x", "text": "x", "until": huge}))
    await _breaks_link(synced_hall, cloud, "cmd-overflow")
    await still_serving(synced_hall)


async def test_nan_slot_is_rejected_not_fatal(synced_hall: Api, cloud: CloudSim) -> None:
    await subscribed(cloud)
    payload = (b'{"v": 1, "id": "cmd-nan", "kind": "appointment.create", "body": '
               b'{"appointment_id": "apt-nan", "category": "A", "identity": "'
               + ID_A.encode() + b'", "slot_start": NaN, "slot_end": NaN}}')
    await cloud.push(HALL, "raw", {}, raw=payload)
    await _breaks_link(synced_hall, cloud, "cmd-nan")
    assert await appointments(synced_hall) == []
    await still_serving(synced_hall)
