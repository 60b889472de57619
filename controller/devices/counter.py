"""People counters over Modbus TCP or RTU (pymodbus, pinned): read the profile's registers.

A reading whose totals changed is recorded through the flow module's `CounterReading`
command (controller/core/flow.py). pymodbus's own reconnect is switched off: the link
reconnects through our one state machine like every other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from controller.devices.runtime import Device
from controller.sync.reconnect import Backoff, ReconnectLogic
from firmware_bridges.counter import decode

log = structlog.get_logger("devices")

ReadingHandler = Callable[[Device, dict[str, int]], Awaitable[None]]


class CounterLink:
    def __init__(self, device: Device, on_reading: ReadingHandler,
                 port: Path | None = None) -> None:
        self.device = device
        self.port = port
        self.on_reading = on_reading
        self.logic = ReconnectLogic(f"devices:{device.id}", self._session,
                                    Backoff(base=0.2, cap=2.0), stable_after=5.0)

    async def run(self) -> None:
        await self.logic.run()

    async def _session(self) -> None:
        dev = self.device
        timing = dev.profile.timing
        e, t = dev.entry, dev.profile.transport
        client: Any
        if e.host is not None and e.tcp_port is not None:
            client = AsyncModbusTcpClient(e.host, port=e.tcp_port,
                                          timeout=timing.reply_timeout_ms / 1000, retries=0,
                                          reconnect_delay=0)
            where = f"{e.host}:{e.tcp_port}"
        else:  # Modbus RTU on a serial port of its own
            assert self.port is not None
            client = AsyncModbusSerialClient(str(self.port), baudrate=t.baudrate,
                                             bytesize=t.bytesize, parity=t.parity,
                                             stopbits=t.stopbits,
                                             timeout=timing.reply_timeout_ms / 1000,
                                             retries=0, reconnect_delay=0)
            where = str(self.port)
        try:
            if not await client.connect():
                raise ConnectionError(f"no Modbus device at {where}")
            self.logic.mark_connected()
            cmap = dev.profile.registers
            assert cmap is not None
            first, count = cmap.block()
            unit = dev.entry.address or 1
            last: dict[str, int] | None = None
            while True:
                read = (client.read_input_registers if cmap.table == "input"
                        else client.read_holding_registers)
                try:
                    rr = await read(first, count=count, device_id=unit)
                except ModbusException as exc:
                    dev.health.miss(str(exc))
                    if not client.connected:
                        raise ConnectionError(str(exc)) from exc
                    rr = None
                if rr is not None:
                    if rr.isError():  # the register map does not fit the device
                        dev.health.bad_frame(f"Modbus exception {rr}")
                    else:
                        try:
                            counts = decode(cmap, list(rr.registers))
                        except ValueError as exc:
                            dev.health.bad_frame(str(exc))
                        else:
                            dev.health.ok()
                            dev.info["counts"] = counts
                            if counts != last:
                                last = counts
                                await self.on_reading(dev, counts)
                await asyncio.sleep(timing.poll_interval_ms / 1000)
        finally:
            dev.health.down("Modbus link down")
            client.close()
