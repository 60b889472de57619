"""Commands from the cloud: parsed, checked, applied at most once, each acknowledged up.

MQTT's own PUBACK for an incoming message is sent by the client library as soon as the
message arrives, before it is committed here, so it proves nothing. The protocol therefore
acknowledges at the application level, on the acks topic, after the commit: the cloud
re-sends a command until it sees that ack, and the hall recognises the re-sends by id
(docs/cloud-protocol.md). A malformed message is answered and counted, never raised.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.engine import Outcome
from controller.core.identity import IdentityError, keyed_hash
from controller.core.state import HallState
from controller.core.views import ticket_view
from controller.store.ids import new_id
from controller.store.writer import Reply, Writer
from controller.sync.protocol import PROTOCOL_VERSION

log = structlog.get_logger("downlink")

MAX_AGE_S = 7 * 24 * 3600.0  # a command older than this is out of date
MAX_PAYLOAD = 64 * 1024
MAX_MS = 2**53  # epoch milliseconds beyond this are not times (and lose precision)

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Malformed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _str(body: dict[str, Any], key: str, required: bool = True, max_len: int = 200
         ) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise Malformed("missing_field", f"body.{key} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise Malformed("bad_field", f"body.{key} must be a non-empty string")
    return value


def _time(body: dict[str, Any], key: str, required: bool = True) -> float | None:
    """Epoch milliseconds, or ISO 8601 with an offset (a zone-less time is ambiguous)."""
    value = body.get(key)
    if value is None:
        if required:
            raise Malformed("missing_field", f"body.{key} is required")
        return None
    if isinstance(value, bool):
        raise Malformed("bad_field", f"body.{key} must be a time")
    if isinstance(value, int | float):
        # Python's JSON reads NaN, Infinity and 400-digit integers: none is a time.
        if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value < MAX_MS:
            raise Malformed("bad_field", f"body.{key} is not a time in epoch milliseconds")
        return float(value) / 1000.0
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Malformed("bad_field", f"body.{key} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise Malformed("bad_field", f"body.{key} needs a UTC offset, e.g. +08:00")
        return parsed.timestamp()
    raise Malformed("bad_field", f"body.{key} must be a time")


class DownlinkHandler:
    KINDS = ("appointment.create", "appointment.cancel", "sms_ticket", "notice.publish",
             "notice.withdraw", "catalog.update")

    def __init__(self, cfg: HallConfig, writer: Writer, identity_key: bytes,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.writer = writer
        self.key = identity_key
        self.clock = clock
        self.malformed = 0
        self.handled = 0

    def _identity(self, raw: str | None) -> str:
        if raw is None:
            raise Malformed("missing_field", "body.identity is required")
        try:
            return keyed_hash(self.key, raw)
        except IdentityError as exc:
            raise Malformed("bad_identity", str(exc)) from None

    def _inner(self, kind: str, body: dict[str, Any]) -> c.Command:
        if kind == "appointment.create":
            return c.CreateAppointment(
                _str(body, "appointment_id", max_len=64) or "",
                _str(body, "category", max_len=1) or "",
                _time(body, "slot_start") or 0.0,
                _time(body, "slot_end") or 0.0,
                self._identity(_str(body, "identity", max_len=32)),
                source="cloud",
            )
        if kind == "appointment.cancel":
            return c.CancelAppointment(_str(body, "appointment_id", max_len=64) or "",
                                       _str(body, "reason", required=False) or "")
        if kind == "sms_ticket":
            return c.IssueTicket(new_id(), _str(body, "category", max_len=1) or "",
                                 "sms", None, self._identity(_str(body, "phone", max_len=20)))
        if kind == "notice.publish":
            return c.PublishNotice(_str(body, "notice_id", max_len=64) or "",
                                   _str(body, "text", max_len=500) or "",
                                   _time(body, "until", required=False))
        if kind == "notice.withdraw":
            return c.WithdrawNotice(_str(body, "notice_id", max_len=64) or "")
        if kind == "catalog.update":
            from controller.core.catalog import catalog_command

            return catalog_command(self.cfg, lambda: self.writer.state, body, Malformed)
        raise Malformed("unknown_kind", f"unknown command kind {kind!r}; known: "
                        + ", ".join(self.KINDS))

    def parse(self, payload: bytes) -> c.FromCloud:
        if len(payload) > MAX_PAYLOAD:
            raise Malformed("too_large", f"a command has at most {MAX_PAYLOAD} bytes")
        try:
            message = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Malformed("bad_json", "the payload is not JSON") from None
        if not isinstance(message, dict):
            raise Malformed("bad_json", "the payload must be a JSON object")
        command_id = message.get("id")
        if not isinstance(command_id, str) or not 1 <= len(command_id) <= 64:
            raise Malformed("missing_id", "a command needs an id (a string of 1-64 characters)")
        version = message.get("v")
        if isinstance(version, bool) or not isinstance(version, int) or version != PROTOCOL_VERSION:
            raise Malformed("bad_version", f"protocol version must be {PROTOCOL_VERSION}")
        kind = message.get("kind")
        body = message.get("body")
        if not isinstance(kind, str) or not isinstance(body, dict):
            raise Malformed("bad_command", "a command needs a kind and a body object")
        issued = _time(message, "issued_at_ms", required=False)
        if issued is not None and issued < self.clock() - MAX_AGE_S:
            expires_at: float | None = 0.0  # rejected as out of date by the core, and kept
        else:
            expires_at = _time(message, "expires_at_ms", required=False)
        return c.FromCloud(command_id, kind, self._inner(kind, body), expires_at)

    async def handle(self, payload: bytes, send: Send) -> None:
        """One message: apply it (or not) and send its acknowledgement."""
        try:
            command = self.parse(payload)
        except Malformed as exc:
            self.malformed += 1
            command_id = _peek_id(payload)
            log.warning("command_malformed", reason=exc.reason, command_id=command_id)
            await send(self._ack(command_id, "rejected", reason=exc.reason, detail=exc.detail))
            return
        status, ack = await self.writer.submit(command, self._render(command), "cloud")
        self.handled += 1
        await send(ack)

    def _ack(self, command_id: str | None, result: str, **extra: Any) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "hall_id": self.cfg.hall_id, "command_id": command_id,
                "result": result, **{k: v for k, v in extra.items() if v is not None}}

    def _render(self, command: c.FromCloud) -> Callable[[HallState, Outcome], Reply]:
        def render(state: HallState, outcome: Outcome) -> Reply:
            first = state.cloud_commands.get(command.command_id, {})
            duplicate = outcome.refusal is not None and outcome.refusal.code == "duplicate_command"
            if outcome.refusal is not None and not duplicate:  # not expected: the core wraps
                return 200, self._ack(command.command_id, "rejected",
                                      reason=outcome.refusal.code, detail=outcome.refusal.detail)
            extra: dict[str, Any] = {}
            for event in outcome.events:
                if event.type in (ev.CLOUD_COMMAND_APPLIED, ev.CLOUD_COMMAND_REJECTED):
                    first = {"result": "applied" if event.type == ev.CLOUD_COMMAND_APPLIED
                             else "rejected", **event.data}
            ticket_id = first.get("ticket_id")
            if ticket_id and ticket_id in state.tickets:
                view = ticket_view(state, self.cfg, state.tickets[ticket_id])
                extra["ticket"] = {k: view[k] for k in
                                   ("number", "category", "status", "waiting_ahead",
                                    "estimated_wait_min")}
            return 200, self._ack(
                command.command_id, "duplicate" if duplicate else str(first.get("result")),
                first_result=first.get("result") if duplicate else None,
                reason=first.get("reason"), detail=first.get("detail"), **extra,
            )
        return render


def _peek_id(payload: bytes) -> str | None:
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(message, dict) and isinstance(message.get("id"), str):
        return str(message["id"])[:64]
    return None
