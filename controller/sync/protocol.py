"""The cloud protocol's topics and payloads (docs/cloud-protocol.md), as pure functions.

Payloads are versioned JSON: `v` is bumped only for an incompatible change; fields are
added freely and receivers ignore what they do not know.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from controller.core.events import public_data
from controller.store.eventlog import Envelope
from controller.store.wire import WireBatch

PROTOCOL_VERSION = 1


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    hall_id: str

    def _t(self, leaf: str) -> str:
        return f"{self.prefix}/{self.hall_id}/{leaf}"

    @property
    def events(self) -> str:
        """Up: batches of committed events, QoS 1, in seq order."""
        return self._t("events")

    @property
    def status(self) -> str:
        """Up, retained: online / offline (the last will)."""
        return self._t("status")

    @property
    def commands(self) -> str:
        """Down: commands from the cloud, QoS 1."""
        return self._t("commands")

    @property
    def receipts(self) -> str:
        """Down: the receiver's end-to-end receipts, {"last_seq": N}."""
        return self._t("receipts")

    @property
    def acks(self) -> str:
        """Up: one acknowledgement per command, with its result."""
        return self._t("acks")


def event_json(e: Envelope) -> dict[str, Any]:
    """An event as the cloud receives it: no pseudonymous identifiers, epoch-ms time.
    (The uplink has SQLite build the same object: `store/wire.py`.)"""
    return {"seq": e.seq, "id": e.id, "ts_ms": int(e.ts * 1000), "type": e.type,
            "data": public_data(e.data)}


@functools.lru_cache(maxsize=16)
def _batch_head(hall_id: str) -> bytes:
    hall = json.dumps(hall_id, ensure_ascii=False)
    return f'{{"v":{PROTOCOL_VERSION},"hall_id":{hall},"first_seq":'.encode()


def encode_wire(hall_id: str, batch: WireBatch) -> bytes:
    """A batch payload around events already in their wire form (the uplink's path):
    {"v","hall_id","first_seq","last_seq","events"}, compact, built from bytes because it
    runs once per batch on the drain's hot path."""
    return b"".join((_batch_head(hall_id),
                     b'%d,"last_seq":%d,"events":[' % (batch.first_seq, batch.last_seq),
                     batch.events, b"]}"))


# A PUBLISH packet around its payload, without properties: fixed header (1 + up to 4
# bytes of length), topic (2 + its bytes), packet id (2), properties length (1); rounded up.
_PUBLISH_OVERHEAD = 16
# A batch's envelope around its events with the largest seqs (20 digits each).
_BATCH_TAIL = len(b'%d,"last_seq":%d,"events":[' % (10**19, 10**19)) + len(b"]}")


def events_budget(hall_id: str, topic: str, batch_max_bytes: int,
                  broker_max_packet: int | None) -> int:
    """How many bytes of events one batch may carry so that its PUBLISH stays within
    `[cloud].batch_max_bytes` and the broker's maximum packet size (MQTT 5 CONNACK,
    when it sends one): a broker disconnects a client that sends a bigger packet, and
    the same batch would be sent again after every reconnect."""
    packet = batch_max_bytes
    if broker_max_packet is not None:
        packet = min(packet, broker_max_packet)
    payload = packet - _PUBLISH_OVERHEAD - len(topic.encode())
    return max(1, payload - len(_batch_head(hall_id)) - _BATCH_TAIL)


def encode_batch(hall_id: str, events: list[Envelope]) -> bytes:
    """The same payload from envelopes in memory (the reference for the SQLite-built one)."""
    joined = ",".join(json.dumps(event_json(e), ensure_ascii=False, separators=(",", ":"))
                      for e in events)
    return encode_wire(hall_id, WireBatch(events[0].seq, events[-1].seq, joined.encode()))


def status_payload(hall_id: str, online: bool) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, "hall_id": hall_id,
                       "state": "online" if online else "offline"}).encode()
