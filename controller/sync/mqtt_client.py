"""aiomqtt behind our own small interface: connect options in one place, nothing else.

aiomqtt 2.5 is pinned and mid-rewrite; only this module imports it, so a change of client
library touches one file. Its in-flight queue is never trusted for durability: the uplink
re-sends from the cursor after any reconnect.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.config.model import CloudConfig
from controller.sync.protocol import Topics, status_payload


class MqttConfigError(Exception):
    pass


def broker_address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise MqttConfigError(f"not an mqtt:// or mqtts:// URL: {url!r}")
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def make_client(cloud: CloudConfig, url: str, topics: Topics, hall_id: str) -> aiomqtt.Client:
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
    connect_props = Properties(PacketTypes.CONNECT)
    # A persistent session: the broker keeps our subscription and queued commands while the
    # hall is offline, for up to this long.
    connect_props.SessionExpiryInterval = cloud.session_expiry_s
    return aiomqtt.Client(
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
