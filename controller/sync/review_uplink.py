"""Evaluations to the provincial review system (好差评) over HTTP, at once and exactly once
in effect.

Its own cursor over the event log. Each evaluation is POSTed (form, UTF-8) with an HMAC-
SHA256 signature of the body and the evaluation id as Idempotency-Key, and retried with
capped backoff on timeouts, connection errors, 5xx, 408 and 429. Any other 4xx means the
record itself is refused: it is parked (an event, listed at /api/sync/dead-letters) and
the next one goes, so one bad record never blocks the rest. The state, rebuilt from the
log, says which evaluations are still pending, so a restart never sends one that an
earlier run already delivered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import structlog

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.engine import Outcome
from controller.core.identity import scrub
from controller.core.state import Evaluation, HallState, ReportState
from controller.store.eventlog import Envelope, EventLog
from controller.store.sealed import Sealed, SealedIdentities
from controller.store.writer import Reply, Writer
from controller.sync.cursor import CursorStore
from controller.sync.reconnect import Backoff, LinkState
from controller.sync.review_report import USER_LEGAL_ENTITY, encode_form, report_fields

log = structlog.get_logger("review_uplink")

LINK = "haochaping"
TIMEOUT_S = 10.0
RETRYABLE_4XX = frozenset({408, 425, 429})
SWEEP_S = 600.0
MAX_ANSWER = 64 * 1024  # of the review system's answer, read to find its `result`  # how often ID numbers past their retention time are erased
_TRIGGERS = (ev.EVALUATION_RECORDED, ev.EVALUATION_REPORT_RETRY)


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _ok(state: HallState, outcome: Outcome) -> Reply:
    return 200, {}


class ReviewUplink:
    def __init__(self, cfg: HallConfig, url: str, secret: bytes | None, event_log: EventLog,
                 writer: Writer, cursors: CursorStore, timeout: float = TIMEOUT_S,
                 backoff: Backoff | None = None, sealed: SealedIdentities | None = None
                 ) -> None:
        self.cfg = cfg
        self.url = url
        self.secret = secret
        self.log = event_log
        self.writer = writer
        self.cursors = cursors
        self.timeout = timeout
        self.backoff = backoff or Backoff(0.5, 60.0)
        self.sealed = sealed  # ID numbers for real-name reports, erased once acknowledged
        self.state = LinkState.DISCONNECTED
        self.last_error: str | None = None
        self.delivered = 0
        self.parked = 0
        self.attempts = 0
        self._wake = asyncio.Event()
        writer.subscribe(self._notify)

    def _notify(self, envelopes: list[Envelope]) -> None:
        if any(e.type in _TRIGGERS for e in envelopes):
            self._wake.set()

    async def run(self) -> None:
        cursor = await self.cursors.get(LINK)
        sweeper = asyncio.ensure_future(self._forget_unreported())
        try:
            await self._send_from(cursor)
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)

    async def _send_from(self, cursor: int) -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout)
        ) as session:
            while True:
                self._wake.clear()
                batch = await self.log.read(cursor, 500)
                if not batch:
                    await self._wake.wait()
                    continue
                for e in batch:
                    if e.type in _TRIGGERS:
                        pending = self.writer.state.evaluations.get(e.data["evaluation_id"])
                        if pending is not None and pending.report is ReportState.PENDING:
                            await self._deliver(session, pending)
                    cursor = e.seq
                await self.cursors.advance(LINK, cursor)

    async def _forget_unreported(self) -> None:
        """ID numbers of tickets never rated (or whose report never got through) are not
        kept past the retention time: such a report, if it ever goes, goes anonymous."""
        if self.sealed is None:
            return
        while True:
            retention_s = self.cfg.review.identity_retention_h * 3600
            erased = await self.sealed.erase_before(time.time() - retention_s)
            if erased:
                log.info("identities_erased", count=erased, reason="retention")
            await asyncio.sleep(SWEEP_S)

    async def _identity(self, e: Evaluation) -> tuple[str | None, Sealed | None]:
        """(ticket id, its sealed ID number and name) for a real-name report, else (id, None)."""
        ticket_id = e.data.get("ticket_id")
        if not isinstance(ticket_id, str) or self.sealed is None or not self.cfg.review.real_name:
            return (ticket_id if isinstance(ticket_id, str) else None), None
        if e.data.get("anonymous"):
            # The citizen asked not to be named: the number will never be sent, so it is
            # not kept a moment more.
            await self.sealed.erase(ticket_id)
            return ticket_id, None
        return ticket_id, await self.sealed.unseal(ticket_id)

    async def _deliver(self, session: aiohttp.ClientSession, e: Evaluation) -> None:
        fields = report_fields(self.cfg, self.writer.state, e)
        ticket_id, identity = await self._identity(e)
        # A company served is the report's user; the person's number (the agent's) is
        # not sent, and is erased with the acknowledgement all the same.
        if identity is not None and fields["userProp"] != USER_LEGAL_ENTITY:
            fields["certkeyGOV"] = identity.number
            fields["userName"] = identity.name or ""
        body = encode_form(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "Idempotency-Key": e.id}
        if self.secret is not None:
            headers["X-Hall-Signature"] = signature(self.secret, body)
        while True:
            self.attempts += 1
            try:
                async with session.post(self.url, data=body, headers=headers) as resp:
                    status = resp.status
                    answer = (await resp.content.read(MAX_ANSWER)).decode(
                        resp.charset or "utf-8", errors="replace")
                    text = answer[:200]
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                self._failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            else:
                refused = self._refused_in_body(answer) if 200 <= status < 300 else None
                if refused is not None:  # a 2xx whose `result` says it was not stored
                    await self._record(e, False, status, scrub(refused)[:200])
                    self.parked += 1
                    log.warning("report_parked", evaluation=e.id, status=status,
                                reason="result")
                    return
                if 200 <= status < 300:
                    # Counted before the state can say "delivered": /api/sync never shows
                    # a report gone from the backlog and not yet in `delivered`.
                    self.delivered += 1
                    try:
                        await self._record(e, True, status, "")
                    except BaseException:
                        self.delivered -= 1
                        raise
                    if identity is not None and ticket_id is not None and self.sealed:
                        await self.sealed.erase(ticket_id)  # reported: not kept a moment more
                    return
                if 400 <= status < 500 and status not in RETRYABLE_4XX:
                    # The answer may quote the form back: no ID number into the log.
                    await self._record(e, False, status, scrub(text))
                    self.parked += 1
                    log.warning("report_parked", evaluation=e.id, status=status)
                    return
                self._failed(f"HTTP {status}")
            await asyncio.sleep(self.backoff.next_delay())

    def _refused_in_body(self, answer: str) -> str | None:
        """With `[review].success_results` set, why a 2xx answer is not a delivery (its
        `result`, JSON or form, is not one of them), else None."""
        accepted = self.cfg.review.success_results
        if not accepted:
            return None
        fields: dict[str, Any] = {}
        try:
            parsed = json.loads(answer)
            if isinstance(parsed, dict):
                fields = parsed
        except ValueError:
            fields = dict(parse_qsl(answer.strip()))
        result = fields.get("result")
        if result is not None and str(result) in accepted:
            return None
        message = fields.get("resultmsg")
        return (f"result {result!r}" + (f": {message}" if message else "")
                if result is not None else f"no result in the answer: {answer[:150]}")

    def _failed(self, error: str) -> None:
        if self.backoff.failures == 0:
            log.warning("review_system_unreachable", error=error)
        self.state = LinkState.BACKOFF
        self.last_error = error

    async def _record(self, e: Evaluation, delivered: bool, status: int, detail: str) -> None:
        self.state = LinkState.CONNECTED
        self.backoff.reset()
        await self.writer.submit(c.RecordReport(e.id, delivered, status, detail), _ok, "sync")

    async def status(self) -> dict[str, Any]:
        pending = [x for x in self.writer.state.evaluations.values()
                   if x.report is ReportState.PENDING]
        oldest = min((x.at for x in pending), default=None)
        # Nothing tried yet (no report to send since the start): not known to be down.
        idle = self.state is LinkState.DISCONNECTED and self.attempts == 0
        return {
            "link": LINK,
            "url": self.url,
            "state": "idle" if idle else self.state.value,
            "connected": self.state is LinkState.CONNECTED,
            "cursor": await self.cursors.get(LINK),
            "backlog": len(pending),
            "oldest_unsent_age_s": round(time.time() - oldest, 1) if oldest else None,
            "last_error": self.last_error,
            "delivered": self.delivered,
            "parked": sum(1 for x in self.writer.state.evaluations.values()
                          if x.report is ReportState.PARKED),
            # ID numbers held sealed for real-name reports not yet acknowledged: personal
            # data on this box, so its amount is in plain sight.
            "identities_held": await self.sealed.count() if self.sealed is not None else 0,
        }
