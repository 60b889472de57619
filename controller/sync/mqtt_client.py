"""aiomqtt behind our own small interface: connect options in one place, and what
aiomqtt 2.5 gets wrong or leaves out for us fixed in a subclass (a PUBACK's failure reason
code, a wait that can lose a cancel, the CONNACK's Maximum Packet Size).

aiomqtt 2.5 is pinned and mid-rewrite; clients are made only here (the sync service and
the reference cloud use its error and message types), so a change of client library
touches few files. Its in-flight queue is never trusted for durability: the uplink
re-sends from the cursor after any reconnect.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import ssl
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.types import PayloadType
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from controller.config.model import CloudConfig
from controller.sync.protocol import Topics, status_payload

T = TypeVar("T")


class MqttConfigError(Exception):
    pass


class PublishRefused(aiomqtt.MqttError):
    """The broker answered a QoS 1 publish with a failure reason code (0x80 and above),
    e.g. 0x87 Not authorized when its ACL does not let the hall write the topic."""

    def __init__(self, topic: str, code: ReasonCode) -> None:
        super().__init__(f"the broker refused the publish to {topic}: {code} "
                         f"(reason code 0x{code.value:02X})")
        self.topic = topic
        self.code = code


# The paho message info of the publish being made in this task: aiomqtt's publish does not
# return it, and its mid is what the PUBACK's reason code is filed under.
_SENT: contextvars.ContextVar[list[paho.MQTTMessageInfo] | None] = contextvars.ContextVar(
    "_SENT", default=None)


class Client(aiomqtt.Client):
    """aiomqtt's client, except that a publish the broker refuses raises PublishRefused.

    aiomqtt 2.5 completes a QoS 1 publish on any PUBACK and drops its reason code, so a
    batch the broker refused (Mosquitto answers 0x87 when its ACL denies the topic) looked
    delivered, and the uplink's cursor would have moved past events the cloud never got.
    Codes below 0x80 (0x10 No matching subscribers) are successes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused: dict[int, ReasonCode] = {}
        # The broker's Maximum Packet Size from its CONNACK (MQTT 5), None when it sets
        # none: paho does not enforce it, and a broker drops a client that exceeds it.
        self.max_packet_size: int | None = None
        paho_publish = self._client.publish

        def publish(*a: Any, **k: Any) -> paho.MQTTMessageInfo:
            info = paho_publish(*a, **k)
            sent = _SENT.get()
            if sent is not None:
                sent.append(info)
            return info

        self._client.publish = publish  # type: ignore[method-assign]

    async def _wait_for(self, fut: Awaitable[T], timeout: float | None) -> T:
        """aiomqtt's, with `asyncio.timeout` instead of `asyncio.wait_for`: on Python
        3.11, wait_for swallows a cancellation that arrives as the awaited thing completes
        (gh-86296), so a session cancelled at shutdown just as a PUBACK came in went on
        publishing, and the daemon's stop waited for it for ever."""
        if timeout is None:
            timeout = self.timeout
        try:
            async with asyncio.timeout(None if timeout == math.inf else timeout):
                return await fut
        except TimeoutError:
            raise aiomqtt.MqttError("Operation timed out") from None

    def _on_connect(self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags,
                    reason_code: ReasonCode, properties: Properties | None = None) -> None:
        size = getattr(properties, "MaximumPacketSize", None)
        self.max_packet_size = size if isinstance(size, int) and size > 0 else None
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int,
                    reason_code: ReasonCode, properties: Properties) -> None:
        if reason_code.is_failure:
            self._refused[mid] = reason_code
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish(self, /, topic: str, payload: PayloadType = None,
                      qos: int = 0, retain: bool = False,  # noqa: FBT001, FBT002
                      properties: Properties | None = None, *args: Any,
                      timeout: float | None = None, **kwargs: Any) -> None:
        sent: list[paho.MQTTMessageInfo] = []
        token = _SENT.set(sent)
        try:
            await super().publish(topic, payload, qos, retain, properties, *args,
                                  timeout=timeout, **kwargs)
        finally:
            _SENT.reset(token)
            code = self._refused.pop(sent[0].mid, None) if sent else None
        if code is not None:
            raise PublishRefused(topic, code)


def broker_address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise MqttConfigError(f"not an mqtt:// or mqtts:// URL: {url!r}")
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def make_client(cloud: CloudConfig, url: str, topics: Topics, hall_id: str) -> Client:
    host, port, tls = broker_address(url)
    tls_context = None
    if tls:
        tls_context = ssl.create_default_context(
            cafile=str(cloud.ca_file) if cloud.ca_file else None)
        if cloud.cert_file and cloud.key_file:
            tls_context.load_cert_chain(str(cloud.cert_file), str(cloud.key_file))
    password = None
    if cloud.password_file is not None:
        password = cloud.password_file.read_text(encoding="utf-8").strip()
    connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    # A persistent session: the broker keeps our subscription and queued commands while the
    # hall is offline, for up to this long.
    connect_props.SessionExpiryInterval = cloud.session_expiry_s
    return Client(
        host,
        port,
        identifier=cloud.client_id or f"hallctl-{hall_id}",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=connect_props,
        username=cloud.username,
        password=password,
        tls_context=tls_context,
        will=aiomqtt.Will(topics.status, status_payload(hall_id, online=False), qos=1,
                          retain=True),
        keepalive=30,
        timeout=15,
        # Our own window is max_inflight batches; leave paho room so it never queues them.
        max_inflight_messages=cloud.max_inflight + 4,
    )
