"""The MQTT link to the cloud platform: one reconnecting session carrying the uplink drain
and the downlink commands together, so both see the same connection state.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiomqtt
import structlog

from controller.config.model import HallConfig
from controller.store.eventlog import EventLog
from controller.store.writer import Writer
from controller.sync.cursor import CursorStore
from controller.sync.downlink import DownlinkHandler
from controller.sync.mqtt_client import make_client
from controller.sync.protocol import Topics, encode_wire, events_budget, status_payload
from controller.sync.reconnect import AuthFailed, LinkState, ReconnectLogic
from controller.sync.uplink import Uplink

log = structlog.get_logger("sync")

LINK = "mqtt"
PUBLISH_TIMEOUT_S = 30.0
# CONNACK reason codes that mean "your credentials": wait long before trying again.
_AUTH_CODES = {4, 5, 134, 135}

class MqttSync:
    def __init__(self, cfg: HallConfig, url: str, event_log: EventLog, writer: Writer,
                 cursors: CursorStore, downlink: DownlinkHandler | None = None) -> None:
        self.cfg = cfg
        self.url = url
        self.log = event_log
        self.writer = writer
        self.topics = Topics(cfg.cloud.topic_prefix, cfg.hall_id)
        self.uplink = Uplink(LINK, event_log, cursors,
                             lambda batch: encode_wire(cfg.hall_id, batch),
                             cfg.cloud.batch_max_events, cfg.cloud.max_inflight,
                             cfg.cloud.receipts, cfg.cloud.receipt_wait_s,
                             cfg.cloud.batch_linger_ms / 1000)
        self.downlink = downlink
        writer.subscribe(self.uplink.notify)
        self.logic = ReconnectLogic(LINK, self._session)

    async def run(self) -> None:
        await self.uplink.load()
        await self.logic.run()

    async def _session(self) -> None:
        client = make_client(self.cfg.cloud, self.url, self.topics, self.cfg.hall_id)
        try:
            await client.__aenter__()
        except aiomqtt.MqttCodeError as exc:
            if getattr(exc.rc, "value", exc.rc) in _AUTH_CODES:
                raise AuthFailed(str(exc)) from exc
            raise
        try:
            self.logic.mark_connected()
            await client.publish(self.topics.status, status_payload(self.cfg.hall_id, True),
                                 qos=1, retain=True, timeout=PUBLISH_TIMEOUT_S)
            await client.subscribe(self.topics.commands, qos=1)
            if self.cfg.cloud.receipts:
                await client.subscribe(self.topics.receipts, qos=1)

            async def publish(payload: bytes) -> None:
                await client.publish(self.topics.events, payload, qos=1,
                                     timeout=PUBLISH_TIMEOUT_S)

            budget = events_budget(self.cfg.hall_id, self.topics.events,
                                   self.cfg.cloud.batch_max_bytes, client.max_packet_size)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.uplink.drain(publish, budget), name="mqtt-uplink")
                group.create_task(self._receive(client), name="mqtt-downlink")
        finally:
            # A clean DISCONNECT would suppress the last will; on shutdown we publish the
            # offline status ourselves first so the cloud still learns of it.
            try:
                if self.logic.state is LinkState.CONNECTED:
                    await client.publish(self.topics.status,
                                         status_payload(self.cfg.hall_id, False),
                                         qos=1, retain=True, timeout=2)
            except (TimeoutError, aiomqtt.MqttError):
                pass
            try:
                await client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass

    async def _receive(self, client: aiomqtt.Client) -> None:
        async def send(ack: dict[str, Any]) -> None:
            await client.publish(self.topics.acks, json.dumps(ack, ensure_ascii=False).encode(),
                                 qos=1, timeout=PUBLISH_TIMEOUT_S)

        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, bytes | bytearray):
                payload = b""
            if message.topic.matches(self.topics.receipts):
                await self._receipt(bytes(payload))
            elif self.downlink is not None:
                await self.downlink.handle(bytes(payload), send)

    async def _receipt(self, payload: bytes) -> None:
        try:
            seq = json.loads(payload)["last_seq"]
        except (ValueError, KeyError, TypeError):
            log.warning("receipt_malformed")
            return
        if isinstance(seq, int) and not isinstance(seq, bool):
            await self.uplink.receipt(seq)

    async def status(self) -> dict[str, Any]:
        last = self.writer.state.last_seq
        acked = self.uplink.restart_point
        oldest_age = None
        if last > acked:
            first = await self.log.read(acked, 1)
            if first:
                oldest_age = round(time.time() - first[0].ts, 1)
        return {
            "link": LINK,
            "url": self.url,
            "state": self.logic.state.value,
            "connected": self.logic.state is LinkState.CONNECTED,
            "cursor": acked,
            "receipt_cursor": self.uplink.received if self.uplink.receipts else None,
            "receipt_resends": self.uplink.resends if self.uplink.receipts else None,
            "backlog": max(0, last - acked),
            "oldest_unsent_age_s": oldest_age,
            "last_error": self.logic.last_error,
            "connects": self.logic.connects,
        }
