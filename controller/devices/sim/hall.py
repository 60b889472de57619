"""The simulated devices of a whole hall, from its `[[devices]]` list.

Serial devices get a pty each bus, linked at `<data dir>/<port>` (where the daemon looks
for a relative port); network devices listen on their host:port. `hallctl simulate`
runs this until interrupted; tests use it to drive and read every device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.config.model import HallConfig
from controller.devices.config import profiles
from controller.devices.sim.devices import (
    SimBus,
    SimCardReader,
    SimCounter,
    SimCounterRtu,
    SimEvaluator,
    SimKeypad,
    SimOnbon,
    SimOnbonTcp,
    SimPrinter,
    SimSerialPrinter,
    SimTextScreen,
)


class HallSimulation:
    def __init__(self, cfg: HallConfig, data_dir: Path) -> None:
        self.cfg = cfg
        self.data_dir = data_dir
        self.buses: dict[str, SimBus] = {}
        self.devices: dict[str, Any] = {}  # device id -> its simulator
        self.servers: dict[str, Any] = {}  # device id -> a TCP or Modbus server
        self.readers: dict[str, SimCardReader] = {}
        self.serial: dict[str, SimSerialPrinter] = {}  # printers on a serial port
        known = profiles()
        for e in cfg.devices:
            p = known[e.profile]
            if e.kind == "counter":
                reg = p.registers
                in_at = reg.counters["in"].address if reg else 0
                out_at = reg.counters["out"].address if reg else 2
                if e.port:
                    sim: Any = SimCounterRtu(self.link(e.port), e.address or 1, in_at, out_at,
                                             p.transport.baudrate)
                else:
                    assert e.host and e.tcp_port
                    sim = SimCounter(e.host, e.tcp_port, in_at, out_at, e.address or 1)
                self.servers[e.id] = self.devices[e.id] = sim
            elif e.kind == "printer" and e.port:
                self.serial[e.id] = self.devices[e.id] = SimSerialPrinter(self.link(e.port))
            elif e.kind == "printer":
                assert e.host and e.tcp_port
                self.servers[e.id] = self.devices[e.id] = SimPrinter(e.host, e.tcp_port)
            elif e.kind == "display" and e.host:
                assert e.tcp_port
                self.servers[e.id] = self.devices[e.id] = SimOnbonTcp(e.host, e.tcp_port,
                                                                      p.encoding)
            elif e.kind == "idcard":
                reader = SimCardReader(self.link(e.port or ""))
                self.readers[e.id] = self.devices[e.id] = reader
            else:
                port = e.port or ""
                bus = self.buses.get(port)
                if bus is None:
                    bus = self.buses[port] = SimBus(self.link(port))
                address = e.address or 0
                if e.kind == "keypad":
                    dev: Any = SimKeypad(address, glyphs=dict(p.keypad.glyphs))
                elif e.kind == "evaluator":
                    dev = SimEvaluator(address)
                elif p.codec == "textscreen":
                    dev = SimTextScreen(address, encoding=p.encoding)
                else:
                    dev = SimOnbon(address)
                self.devices[e.id] = bus.add(dev)

    def link(self, port: str) -> Path:
        p = Path(port)
        return p if p.is_absolute() else self.data_dir / p

    async def start(self) -> None:
        for bus in self.buses.values():
            bus.port.open()
        for reader in self.readers.values():
            reader.port.open()
        for printer in self.serial.values():
            printer.port.open()
        for server in self.servers.values():
            await server.start()

    async def stop(self) -> None:
        for bus in self.buses.values():
            bus.port.close()
        for reader in self.readers.values():
            reader.port.close()
        for printer in self.serial.values():
            printer.port.close()
        for server in self.servers.values():
            await server.stop()

    def bus_of(self, device_id: str) -> SimBus:
        for bus in self.buses.values():
            if any(d is self.devices[device_id] for d in bus.devices.values()):
                return bus
        raise KeyError(device_id)

    def shown(self, device_id: str) -> str:
        """What a screen shows (text) or a keypad's digit display shows."""
        dev = self.devices[device_id]
        if isinstance(dev, SimKeypad):
            return dev.digits
        if isinstance(dev, SimTextScreen | SimOnbon | SimOnbonTcp):
            return dev.text
        raise TypeError(f"{device_id} shows nothing")
