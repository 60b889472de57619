"""The kiosk's ID-card reader: find, select, read; then only hash, mask and birth date.

The base-information block holds the name, address and photo: the address and photo are
parsed by nobody and dropped with the buffer. `firmware_bridges.idcard.read_identity` is given the hall's
keyed hash, so the clear ID number exists only inside that call, except with real-name
review reports on: then it and the name are handed on to be sealed at once
(store/sealed.py). Neither is ever logged, put in a command, an event, a frame we send,
or the device status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from controller.devices.bus import LinkDown, Opener
from controller.devices.runtime import Device
from controller.sync.reconnect import Backoff, ReconnectLogic
from firmware_bridges import idcard

log = structlog.get_logger("devices")

CardHandler = Callable[[Device, idcard.CardIdentity], Awaitable[None]]


class CardReader:
    def __init__(self, device: Device, opener: Opener, hasher: Callable[[str], str],
                 on_card: CardHandler, for_report: bool = False) -> None:
        self.device = device
        self.opener = opener
        self.hasher = hasher
        self.on_card = on_card
        self.for_report = for_report  # number and name, for a real-name report: sealed at once
        self.logic = ReconnectLogic(f"devices:{device.id}", self._session,
                                    Backoff(base=0.2, cap=2.0), stable_after=5.0)
        self._present: str | None = None  # hash of the card lying on the reader

    async def run(self) -> None:
        await self.logic.run()

    async def _session(self) -> None:
        reader, writer = await self.opener()
        self.logic.mark_connected()
        decoder = idcard.Decoder()
        dev = self.device
        try:
            while True:
                found = await self._ask(reader, writer, decoder, idcard.FIND)
                if found is not None and found.sw3 == idcard.SW_FOUND:
                    await self._read_card(reader, writer, decoder)
                elif found is not None:
                    self._present = None  # the card was taken away: the next one counts
                await asyncio.sleep(dev.profile.timing.poll_interval_ms / 1000)
        except LinkDown:
            raise
        except OSError as exc:
            raise LinkDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            dev.health.down("reader link down")
            writer.close()

    async def _read_card(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         decoder: idcard.Decoder) -> None:
        selected = await self._ask(reader, writer, decoder, idcard.SELECT)
        if selected is None or selected.sw3 != idcard.SW_OK:
            return
        base = await self._ask(reader, writer, decoder, idcard.READ_BASE)
        if base is None or base.sw3 != idcard.SW_OK:
            return
        try:
            card = idcard.read_identity(base.data, self.hasher, self.for_report)
        except idcard.CardError as exc:  # its message names no person, only what was wrong
            self.device.health.bad_frame(f"card unreadable: {exc}")
            return
        finally:
            del base  # the photo and the name go with it
        if card.identity_hash == self._present:
            return  # the same card still lying there: one ticket per swipe
        self._present = card.identity_hash
        self.device.info["last_card_at"] = time.time()
        await self.on_card(self.device, card)

    async def _ask(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   decoder: idcard.Decoder, cmd: tuple[int, int]) -> idcard.Packet | None:
        dev = self.device
        writer.write(idcard.request(*cmd))
        await writer.drain()
        deadline = time.monotonic() + dev.profile.timing.reply_timeout_ms / 1000
        bad_before = decoder.stats.bad_frames
        got = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    chunk = await reader.read(4096)
            except TimeoutError:
                break
            if not chunk:
                raise LinkDown("port closed")
            got = True
            packets = decoder.feed(chunk)
            if packets:
                if decoder.stats.bad_frames > bad_before:  # noise before the answer
                    dev.health.noise(decoder.stats.last_error or "unreadable bytes",
                                     decoder.stats.bad_frames - bad_before)
                dev.health.ok()
                return packets[-1]
        bad = decoder.stats.bad_frames - bad_before
        if got or bad:
            dev.health.bad_frame((decoder.stats.last_error if bad else None)
                                 or "unreadable answer", max(bad, 1))
        else:
            dev.health.miss()
        return None
