"""The kiosk's ticket printer (ESC/POS over TCP, or a serial port): one task owns it.

Every job asks the paper sensor first (DLE EOT 4); a job is reported printed only when
the status said paper is there and every byte was handed over. Otherwise the job fails and
the caller voids the ticket (controller/core/voids.py): a ticket that never came out of
the printer must never be called.
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


@dataclass(slots=True)
class Job:
    ticket_id: str
    data: bytes
    done: asyncio.Future[None] = field(repr=False)


class Printer:
    def __init__(self, device: Device, opener: Opener) -> None:
        self.device = device
        self.opener = opener
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        self.connected = False
        self.logic = ReconnectLogic(f"devices:{device.id}", self._session,
                                    Backoff(base=0.2, cap=2.0), stable_after=5.0)

    async def run(self) -> None:
        await self.logic.run()

    async def print(self, ticket_id: str, content: escpos.TicketContent) -> None:
        """Raises PrintFailed with the reason when the ticket did not come out."""
        if not self.connected:
            raise PrintFailed(f"printer {self.device.id} is offline")
        data = escpos.ticket(content, self.device.profile.encoding)
        job = Job(ticket_id, data, asyncio.get_running_loop().create_future())
        self.jobs.put_nowait(job)
        timeout = self.device.profile.timing.reply_timeout_ms / 1000 + 5.0
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(job.done)
        except TimeoutError:
            raise PrintFailed("the printer did not take the job in time") from None

    async def _session(self) -> None:
        reader, writer = await self.opener()
        self.logic.mark_connected()
        self.connected = True
        dev = self.device
        try:
            interval = 0.0  # the paper is checked at once on connecting
            while True:
                try:
                    async with asyncio.timeout(interval):
                        job = await self.jobs.get()
                except TimeoutError:
                    job = None
                interval = dev.profile.timing.poll_interval_ms / 1000
                try:
                    paper = await self._status(reader, writer)
                except PrintFailed as exc:
                    if job is not None:
                        job.done.set_exception(exc)
                    continue
                if job is None:
                    continue
                if paper.paper_out:
                    job.done.set_exception(PrintFailed("paper out"))
                    continue
                writer.write(job.data)
                await writer.drain()
                dev.info["printed"] = dev.info.get("printed", 0) + 1
                job.done.set_result(None)
        except LinkDown:
            raise
        except OSError as exc:
            raise LinkDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.connected = False
            dev.health.down("printer link down")
            while not self.jobs.empty():
                j = self.jobs.get_nowait()
                if not j.done.done():
                    j.done.set_exception(PrintFailed("printer link down"))
            writer.close()

    async def _status(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> escpos.PaperStatus:
        dev = self.device
        writer.write(escpos.STATUS_PAPER)
        await writer.drain()
        timeout = dev.profile.timing.reply_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                raw = await reader.read(64)
        except TimeoutError:
            dev.health.miss("no status answer")
            raise PrintFailed("the printer did not answer its status") from None
        if not raw:
            raise LinkDown("printer closed the connection")
        try:
            status = escpos.parse_status(raw[-1])
        except ValueError as exc:
            dev.health.garbage(str(exc))
            raise PrintFailed(f"unreadable printer status: {exc}") from None
        if len(raw) > 1:
            dev.health.garbage(f"{len(raw)} bytes answered to one status request")
            raise PrintFailed("unreadable printer status")
        dev.health.ok()
        dev.info["paper"] = "out" if status.paper_out else (
            "near_end" if status.near_end else "ok")
        dev.info["checked_at"] = time.time()
        if status.paper_out:
            dev.health.garbage("paper out")
        return status
