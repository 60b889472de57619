"""The cloud protocol's topics and payloads (docs/cloud-protocol.md), as pure functions.

Payloads are versioned JSON: `v` is bumped only for an incompatible change; fields are
added freely and receivers ignore what they do not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controller.core.events import public_data
from controller.store.eventlog import Envelope

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
    (The uplink has SQLite build the same object: `EventLog.read_wire`.)"""
    return {"seq": e.seq, "id": e.id, "ts_ms": int(e.ts * 1000), "type": e.type,
            "data": public_data(e.data)}


def encode_fragments(hall_id: str, rows: list[tuple[int, str]]) -> bytes:
    """A batch from (seq, event JSON text) rows, spliced in as they are."""
    head = json.dumps({"v": PROTOCOL_VERSION, "hall_id": hall_id, "first_seq": rows[0][0],
                       "last_seq": rows[-1][0]}, ensure_ascii=False, separators=(",", ":"))
    return (head[:-1] + ',"events":[' + ",".join(text for _, text in rows) + "]}").encode()


def encode_batch(hall_id: str, events: list[Envelope]) -> bytes:
    rows = [(e.seq, json.dumps(event_json(e), ensure_ascii=False, separators=(",", ":")))
            for e in events]
    return encode_fragments(hall_id, rows)


def status_payload(hall_id: str, online: bool) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, "hall_id": hall_id,
                       "state": "online" if online else "offline"}).encode()
