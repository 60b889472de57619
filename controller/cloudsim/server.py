"""The reference cloud: the provincial side of the protocol, for demos and tests.

It does what docs/cloud-protocol.md asks of a real receiver: de-duplicates events and
review reports by id (counting the duplicates, which tests read), confirms stored events
with receipts, re-sends each command until the hall acknowledges it, and checks the
signature of every review report. It can also be told to fail, to exercise retries.
Everything is kept in memory: it is a test peer, not a product.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import aiomqtt
import structlog
from aiohttp import web
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.sync.mqtt_client import Client, broker_address
from controller.sync.protocol import PROTOCOL_VERSION
from controller.sync.reconnect import Backoff, ReconnectLogic

log = structlog.get_logger("cloudsim")

RESEND_S = 3.0


@dataclass
class HallRecord:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id, arrival order
    seqs: set[int] = field(default_factory=set)
    contiguous: int = 0  # every seq up to here was received, and applied
    # Events applied in seq order: one that arrives after a gap waits here until the gap
    # is filled (a broker restart can deliver a later batch before a re-sent earlier one).
    applied: list[dict[str, Any]] = field(default_factory=list)
    held: dict[int, dict[str, Any]] = field(default_factory=dict)
    status: str | None = None
    out_of_order: int = 0
    last_seq_seen: int = 0
    # (first_seq, last_seq) of each batch as it arrived, for diagnosing order (bounded)
    batches: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=10_000))


@dataclass
class Failure:
    error_rate: float = 0.0  # answer 500
    timeout_rate: float = 0.0  # hold the request past the client's timeout
    status: int | None = None  # answer this status to every report (e.g. 400)
    refuse_in_body: bool = False  # answer 200 with {"result": "fail"} (Zhejiang-style)
    # Lose the next N event batches as a broker can after its PUBACK (crash, full queue):
    # never stored, never receipted, so the hall's receipt cursor stays behind.
    drop_batches: int = 0


class CloudSim:
    def __init__(self, mqtt_url: str | None, secret: bytes | None, prefix: str = "hall",
                 resend_s: float = RESEND_S, timeout_hold_s: float = 30.0) -> None:
        self.mqtt_url = mqtt_url
        self.secret = secret
        self.prefix = prefix
        self.resend_s = resend_s
        self.timeout_hold_s = timeout_hold_s
        self.halls: dict[str, HallRecord] = {}
        self.received = 0
        self.duplicates = 0
        self.dropped_batches = 0
        self.evaluations: dict[str, dict[str, Any]] = {}
        self.evaluation_requests = 0
        self.evaluation_duplicates = 0
        self.bad_signatures = 0
        self.failure = Failure()
        self.pending: dict[str, tuple[str, bytes]] = {}  # command id -> (topic, payload)
        self.acks: dict[str, dict[str, Any]] = {}
        self.ack_count = 0
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.logic = ReconnectLogic("cloudsim-mqtt", self._session, Backoff(0.2, 2.0))

    # ---- MQTT ------------------------------------------------------------------------

    async def _session(self) -> None:
        assert self.mqtt_url is not None
        host, port, _ = broker_address(self.mqtt_url)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 24 * 3600  # queued for us while we are away
        async with Client(host, port, identifier="hallctl-cloudsim",
                                  protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
                                  properties=props, timeout=10) as client:
            self._client = client
            self.logic.mark_connected()
            for leaf in ("events", "status", "acks"):
                await client.subscribe(f"{self.prefix}/+/{leaf}", qos=1)
            self._connected.set()
            resender = asyncio.create_task(self._resend(client))
            try:
                async for message in client.messages:
                    await self._on_message(client, str(message.topic), message.payload)
            finally:
                self._connected.clear()
                self._client = None
                resender.cancel()

    async def _on_message(self, client: aiomqtt.Client, topic: str, payload: Any) -> None:
        parts = topic.split("/")
        if len(parts) != 3:
            return
        hall_id, leaf = parts[1], parts[2]
        try:
            body = json.loads(payload)
        except (TypeError, ValueError):
            log.warning("bad_payload", topic=topic)
            return
        record = self.halls.setdefault(hall_id, HallRecord())
        if leaf == "status":
            record.status = body.get("state")
        elif leaf == "acks":
            command_id = body.get("command_id")
            self.ack_count += 1
            if command_id:
                self.acks.setdefault(command_id, body)
                self.pending.pop(command_id, None)
        elif leaf == "events":
            if self.failure.drop_batches > 0:
                self.failure.drop_batches -= 1
                self.dropped_batches += 1
                return
            record.batches.append((body.get("first_seq", 0), body.get("last_seq", 0)))
            for event in body.get("events", []):
                self._store_event(record, event)
            await client.publish(f"{self.prefix}/{hall_id}/receipts",
                                 json.dumps({"v": PROTOCOL_VERSION,
                                             "last_seq": record.contiguous}).encode(), qos=1)

    def _store_event(self, record: HallRecord, event: dict[str, Any]) -> None:
        event_id = event.get("id")
        if not isinstance(event_id, str):
            return
        if event_id in record.events:
            self.duplicates += 1
            return
        self.received += 1
        seq = int(event.get("seq", 0))
        if seq < record.last_seq_seen:
            record.out_of_order += 1
        record.last_seq_seen = max(record.last_seq_seen, seq)
        record.events[event_id] = event
        record.seqs.add(seq)
        record.held[seq] = event
        while record.contiguous + 1 in record.held:
            record.contiguous += 1
            record.applied.append(record.held.pop(record.contiguous))

    async def _resend(self, client: aiomqtt.Client) -> None:
        """At-least-once for commands: re-send whatever the hall has not acknowledged."""
        while True:
            await asyncio.sleep(self.resend_s)
            for topic, payload in list(self.pending.values()):
                await client.publish(topic, payload, qos=1)

    async def push(self, hall_id: str, kind: str, body: dict[str, Any],
                   command_id: str | None = None, raw: bytes | None = None,
                   issued_at_ms: int | None = None) -> str:
        command_id = command_id or str(uuid.uuid4())
        payload = raw if raw is not None else json.dumps({
            "v": PROTOCOL_VERSION, "id": command_id, "kind": kind, "body": body,
            "issued_at_ms": issued_at_ms if issued_at_ms is not None else int(time.time() * 1000),
        }, ensure_ascii=False).encode()
        topic = f"{self.prefix}/{hall_id}/commands"
        if raw is None:
            self.pending[command_id] = (topic, payload)
        async with asyncio.timeout(30):  # not wait_for: see sync/mqtt_client.py
            await self._connected.wait()
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1)
        return command_id

    # ---- HTTP ------------------------------------------------------------------------

    async def receive_evaluation(self, request: web.Request) -> web.Response:
        self.evaluation_requests += 1
        body = await request.read()
        if self.secret is not None:
            given = request.headers.get("X-Hall-Signature", "")
            want = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(given, want):
                self.bad_signatures += 1
                return web.json_response({"result": "fail", "resultmsg": "bad signature"},
                                         status=401)
        if self.failure.status is not None:
            return web.json_response({"result": "fail", "resultmsg": "told to refuse"},
                                     status=self.failure.status)
        if self.failure.refuse_in_body:
            return web.json_response({"result": "fail", "resultmsg": "told to refuse (200)"})
        roll = random.random()
        if roll < self.failure.timeout_rate:
            await asyncio.sleep(self.timeout_hold_s)
        elif roll < self.failure.timeout_rate + self.failure.error_rate:
            return web.json_response({"result": "fail", "resultmsg": "told to fail"}, status=500)
        key = request.headers.get("Idempotency-Key") or hashlib.sha256(body).hexdigest()
        if key in self.evaluations:
            self.evaluation_duplicates += 1
        else:
            try:
                form = dict(await _form(request, body))
            except ValueError:
                return web.json_response({"result": "fail", "resultmsg": "bad form"}, status=400)
            self.evaluations[key] = form
        return web.json_response({"result": "success", "resultmsg": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_post("/evaluations", self.receive_evaluation)
        r.add_get("/evaluations", self._get_evaluations)
        r.add_get("/events", self._get_events)
        r.add_get("/stats", self._get_stats)
        r.add_get("/acks", self._get_acks)
        r.add_post("/fail", self._set_failure)
        r.add_post("/push/{kind}", self._push)
        return app

    async def _get_evaluations(self, request: web.Request) -> web.Response:
        return web.json_response({"evaluations": list(self.evaluations.values())})

    async def _get_events(self, request: web.Request) -> web.Response:
        hall_id = request.query.get("hall")
        halls = [hall_id] if hall_id else list(self.halls)
        # in the order they took effect: seq order, with nothing after a gap
        events = [e for h in halls for e in self.halls.get(h, HallRecord()).applied]
        return web.json_response({"events": events})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "received": self.received,
            "duplicates": self.duplicates,
            "dropped_batches": self.dropped_batches,
            "connected": self._connected.is_set(),
            "halls": {h: {"events": len(r.events), "contiguous": r.contiguous,
                          "held_after_gap": len(r.held), "status": r.status,
                          "out_of_order_arrivals": r.out_of_order}
                      for h, r in self.halls.items()},
            "evaluations": len(self.evaluations),
            "evaluation_requests": self.evaluation_requests,
            "evaluation_duplicates": self.evaluation_duplicates,
            "bad_signatures": self.bad_signatures,
            "commands_pending": len(self.pending),
            "acks": self.ack_count,
        })

    async def _get_acks(self, request: web.Request) -> web.Response:
        return web.json_response({"acks": self.acks})

    async def _set_failure(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.failure = Failure(float(body.get("error_rate", 0.0)),
                               float(body.get("timeout_rate", 0.0)), body.get("status"),
                               bool(body.get("refuse_in_body", False)),
                               int(body.get("drop_batches", 0)))
        return web.json_response(asdict(self.failure))

    async def _push(self, request: web.Request) -> web.Response:
        """POST /push/{kind}?hall=ID[&id=COMMAND_ID] with the command body as JSON, kind as
        in the protocol (appointment.create, sms_ticket, ...); /push/raw sends bytes as is."""
        kind = request.match_info["kind"]
        if self.mqtt_url is None:
            return web.json_response({"error": "started without --mqtt: nothing to push to"},
                                     status=409)
        hall_id = request.query.get("hall") or next(iter(self.halls), None)
        if hall_id is None:
            return web.json_response({"error": "no hall known yet: give ?hall="}, status=400)
        data = await request.read()
        if kind == "raw":
            await self.push(hall_id, kind, {}, raw=data)
            return web.json_response({"sent": True})
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        issued = request.query.get("issued_at_ms")
        command_id = await self.push(hall_id, kind, body, request.query.get("id"),
                                     issued_at_ms=int(issued) if issued else None)
        return web.json_response({"command_id": command_id})


async def _form(request: web.Request, body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    if request.content_type == "application/json":
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        return {str(k): str(v) for k, v in parsed.items()}
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))


async def run_cloudsim(mqtt_url: str | None, listen: str, secret: bytes | None,
                       stop: asyncio.Event | None = None, prefix: str = "hall") -> None:
    from controller.daemon.run import split_listen

    host, port = split_listen(listen)  # ValueError naming the problem (`hallctl` checks first)
    sim = CloudSim(mqtt_url, secret, prefix)
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    task = asyncio.create_task(sim.logic.run()) if mqtt_url else None
    log.info("cloudsim_ready", listen=listen, mqtt=mqtt_url)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        if task:
            task.cancel()
        await runner.cleanup()
