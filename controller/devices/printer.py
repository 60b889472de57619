"""The kiosk's ticket printer (ESC/POS over TCP, or a serial port): one task owns it.

Every job asks the paper sensor first (DLE EOT 4); a job is reported printed only when
the status said paper is there and every byte was handed over. Otherwise the job fails and
the caller voids the ticket (controller/core/voids.py): a ticket that never came out of
the printer must never be called, and a job the caller gave up on (and voided) is called
off: it is never printed later.

A status answer that comes after its timeout is not taken for the next one: what waits in
the buffer is dropped before each DLE EOT 4, and after a timeout whatever comes within one
more reply timeout too. A printer that stops reading (its buffer full, a hung TCP peer)
costs DRAIN_TIMEOUT_S, then the link is dropped and reconnected.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from controller.devices.bus import LinkDown, Opener
from controller.devices.runtime import Device
from controller.sync.reconnect import Backoff, ReconnectLogic
from firmware_bridges import escpos

log = structlog.get_logger("devices")


class PrintFailed(Exception):
    pass


# Seconds a write may wait for the printer to take the bytes before the link is dropped.
DRAIN_TIMEOUT_S = 5.0


@dataclass(slots=True)
class Job:
    ticket_id: str
    data: bytes
    done: asyncio.Future[None] = field(repr=False)
    started: bool = False  # its bytes are being handed over: too late to call it off


def _settle(job: Job, error: Exception | None = None) -> None:
    """The job's outcome, unless it has one (called off by its caller)."""
    if job.done.done():
        return
    if error is None:
        job.done.set_result(None)
    else:
        job.done.set_exception(error)


class Printer:
    def __init__(self, device: Device, opener: Opener) -> None:
        self.device = device
        self.opener = opener
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        self.connected = False
        self.logic = ReconnectLogic(f"devices:{device.id}", self._session,
                                    Backoff(base=0.2, cap=2.0), stable_after=5.0)
        self._late = False  # a status request went unanswered: its answer may yet come

    async def run(self) -> None:
        await self.logic.run()

    async def print(self, ticket_id: str, content: escpos.TicketContent) -> None:
        """Raises PrintFailed with the reason when the ticket did not come out; a job that
        did not start in time is called off (never printed later)."""
        if not self.connected:
            raise PrintFailed(f"printer {self.device.id} is offline")
        try:
            data = escpos.ticket(content, self.device.profile.encoding)
        except (ValueError, UnicodeError) as exc:
            raise PrintFailed(f"the ticket cannot be encoded: {exc}") from None
        job = Job(ticket_id, data, asyncio.get_running_loop().create_future())
        self.jobs.put_nowait(job)
        timeout = self.device.profile.timing.reply_timeout_ms / 1000 + 5.0
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(job.done)
            return
        except TimeoutError:
            if not job.started:
                job.done.cancel()  # called off: the session skips it
                raise PrintFailed("the printer did not take the job in time") from None
        # its bytes are being handed over: the outcome comes within DRAIN_TIMEOUT_S
        await asyncio.shield(job.done)

    async def _session(self) -> None:
        reader, writer = await self.opener()
        self.logic.mark_connected()
        self.connected = True
        self._late = False
        dev = self.device
        job: Job | None = None
        try:
            interval = 0.0  # the paper is checked at once on connecting
            while True:
                job = None
                try:
                    async with asyncio.timeout(interval):
                        job = await self.jobs.get()
                except TimeoutError:
                    pass
                if job is not None and job.done.done():
                    continue  # called off while it waited: its ticket was voided
                interval = dev.profile.timing.poll_interval_ms / 1000
                try:
                    paper = await self._status(reader, writer)
                except PrintFailed as exc:
                    if job is not None:
                        _settle(job, exc)
                    continue
                if job is None or job.done.done():
                    continue  # (called off while the paper was checked)
                if paper.paper_out:
                    _settle(job, PrintFailed("paper out"))
                    continue
                job.started = True
                writer.write(job.data)
                await self._drain(writer)
                dev.info["printed"] = dev.info.get("printed", 0) + 1
                _settle(job)
        except LinkDown:
            raise
        except OSError as exc:
            raise LinkDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.connected = False
            dev.health.down("printer link down")
            if job is not None:
                _settle(job, PrintFailed("printer link down"))
            while not self.jobs.empty():
                _settle(self.jobs.get_nowait(), PrintFailed("printer link down"))
            writer.close()

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """A printer that stopped reading must not hang the session with `connected` on:
        the link is dropped (its unsent bytes with it) and reconnected."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await writer.drain()
        except TimeoutError:
            writer.transport.abort()
            raise LinkDown(f"the printer took no bytes for {DRAIN_TIMEOUT_S:g} s") from None

    async def _discard(self, reader: asyncio.StreamReader, window: float) -> int:
        """Drops what the printer sent unasked: what is buffered now, and what comes within
        `window` seconds. The number of bytes dropped."""
        dropped = 0
        deadline = time.monotonic() + window
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    chunk = await reader.read(64)
            except TimeoutError:
                return dropped
            if not chunk:
                raise LinkDown("printer closed the connection")
            dropped += len(chunk)

    async def _status(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> escpos.PaperStatus:
        dev = self.device
        timeout = dev.profile.timing.reply_timeout_ms / 1000
        # an answer to an earlier request (one that came after its timeout) must not be
        # read as the answer to this one: every later paper check would be one behind
        stray = await self._discard(reader, timeout if self._late else 0.0)
        self._late = False
        if stray:
            dev.health.noise(f"{stray} bytes nobody asked for (a late status answer?)", stray)
        writer.write(escpos.STATUS_PAPER)
        await self._drain(writer)
        try:
            async with asyncio.timeout(timeout):
                raw = await reader.read(64)
        except TimeoutError:
            self._late = True
            dev.health.miss("no status answer")
            raise PrintFailed("the printer did not answer its status") from None
        if not raw:
            raise LinkDown("printer closed the connection")
        try:
            status = escpos.parse_status(raw[-1])
        except ValueError as exc:
            dev.health.bad_frame(str(exc))
            raise PrintFailed(f"unreadable printer status: {exc}") from None
        if len(raw) > 1:
            dev.health.bad_frame(f"{len(raw)} bytes answered to one status request")
            raise PrintFailed("unreadable printer status")
        dev.health.ok("paper out" if status.paper_out else None)
        dev.info["paper"] = "out" if status.paper_out else (
            "near_end" if status.near_end else "ok")
        dev.info["checked_at"] = time.time()
        return status
