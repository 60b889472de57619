"""Simulated devices: each answers the real frames of its family and keeps readable state.

Fault modes on every device: `silent` (answers nothing, as if unplugged from its bus) and
`garbage` (answers bytes that are no frame, as a device with a broken UART would).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.devices.sim.pty import PtyPort
from firmware_bridges import escpos, idcard, keypad, onbon, textscreen

GARBAGE = bytes(range(0x20, 0x40))


@dataclass
class SimDevice:
    address: int
    silent: bool = False
    garbage: bool = False
    frames: int = 0
    # (monotonic time, frame) of every frame received: for the benchmark and the privacy test
    log: list[tuple[float, bytes]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, reply: bytes | None) -> bytes | None:
        if self.silent:
            return None
        if self.garbage:
            return GARBAGE
        return reply


@dataclass
class SimKeypad(SimDevice):
    digits: str = ""
    beeps: int = 0
    pending: deque[bytes] = field(default_factory=deque)
    acked: int = 0
    glyphs: dict[str, int] = field(default_factory=dict)  # the profile's segment codes

    def press(self, key: int, digit: int | None = None, digits: str = "") -> None:
        """A key, with the digits typed before it (`digits="12"` then TRANSFER), which the
        keypad sends in the key frame, first typed first."""
        typed = [int(ch) for ch in digits] + ([digit] if digit is not None else [])
        self.pending.append(bytes(typed + [key]))

    def handle(self, f: keypad.KeypadFrame) -> bytes | None:
        if f.func == keypad.FUNC_DISPLAY:
            self.digits = keypad.shown_digits(f, self.glyphs)
            self.changed.set()
            return self.answer(keypad.encode(f))
        if f.func == keypad.FUNC_BEEP:
            self.beeps += 1
            return self.answer(keypad.encode(f))
        if f.func == keypad.FUNC_POLL:
            if self.pending and not self.silent and not self.garbage:
                return keypad.encode(keypad.KeypadFrame(self.address, keypad.FUNC_KEY,
                                                        self.pending.popleft()))
            return self.answer(keypad.encode(keypad.KeypadFrame(self.address, keypad.FUNC_POLL)))
        if f.func == keypad.FUNC_KEY:
            self.acked += 1  # the host's echo of our key frame
        return None


@dataclass
class SimEvaluator(SimDevice):
    pending: deque[int] = field(default_factory=deque)
    beeps: int = 0  # prompts to rate (FUNC 0x03)

    def press(self, value: int) -> None:
        self.pending.append(value)

    def handle(self, f: keypad.KeypadFrame) -> bytes | None:
        if f.func == keypad.FUNC_POLL:
            if self.pending and not self.silent and not self.garbage:
                return keypad.encode(keypad.KeypadFrame(
                    self.address, keypad.FUNC_EVALUATE, bytes([self.pending.popleft()])))
            return self.answer(keypad.encode(keypad.KeypadFrame(self.address, keypad.FUNC_POLL)))
        if f.func == keypad.FUNC_BEEP:
            self.beeps += 1
            self.changed.set()
        if f.func in (keypad.FUNC_DISPLAY, keypad.FUNC_BEEP):
            return self.answer(keypad.encode(f))
        return None


@dataclass
class SimTextScreen(SimDevice):
    lines: dict[int, str] = field(default_factory=dict)
    encoding: str = "gb18030"

    @property
    def text(self) -> str:
        return " ".join(self.lines[i] for i in sorted(self.lines))

    def handle(self, f: textscreen.ScreenFrame) -> bytes | None:
        if f.address != self.address:
            return None
        if f.command == textscreen.CMD_SHOW:
            try:
                line, _effect, text = textscreen.shown_text(f, self.encoding)
            except (ValueError, UnicodeDecodeError):
                return self.answer(textscreen.reply(self.address, f.command,
                                                    textscreen.STATUS_BAD_REQUEST))
            if not self.silent:
                self.lines[line] = text
                self.changed.set()
            return self.answer(textscreen.reply(self.address, f.command))
        if f.command == textscreen.CMD_CLEAR:
            self.lines.clear()
            return self.answer(textscreen.reply(self.address, f.command))
        if f.command == textscreen.CMD_STATUS:
            return self.answer(textscreen.reply(self.address, f.command, 0, bytes([2])))
        return self.answer(textscreen.reply(self.address, f.command,
                                            textscreen.STATUS_BAD_REQUEST))


@dataclass
class SimOnbon(SimDevice):
    areas: dict[int, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.areas[i] for i in sorted(self.areas))

    def handle(self, f: onbon.Frame) -> bytes | None:
        if f.destination not in (self.address, 0xFFFE, 0xFFFF):
            return None
        if not self.silent:
            for area in f.areas:
                self.areas[area.area_id] = area.text
            self.changed.set()
        if f.response_mode == onbon.RESPONSE_NONE:
            return None
        return self.answer(onbon.ack(0, source=self.address))


class SimBus:
    """One RS-485 bus on a pty: many addressed devices, each frame to whom it is for."""

    def __init__(self, link: Path, encoding: str = "gbk") -> None:
        self.port = PtyPort(link, self._data)
        self.devices: dict[tuple[str, int], SimDevice] = {}
        self.decoders: dict[str, Any] = {"keypad": keypad.Decoder(),
                                         "textscreen": textscreen.Decoder(),
                                         "onbon": onbon.Decoder(encoding)}

    def add(self, dev: SimDevice) -> SimDevice:
        family = ("keypad" if isinstance(dev, SimKeypad | SimEvaluator) else
                  "textscreen" if isinstance(dev, SimTextScreen) else "onbon")
        self.devices[(family, dev.address)] = dev
        return dev

    def _data(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        for family, decoder in self.decoders.items():
            for f in decoder.feed(data):
                address = f.destination if family == "onbon" else f.address
                dev = self.devices.get((family, address))
                if dev is None and family == "onbon":
                    dev = next((d for (fam, _), d in self.devices.items() if fam == "onbon"),
                               None)
                if dev is None:
                    continue
                dev.frames += 1
                dev.log.append((now, data))
                reply = dev.handle(f)  # type: ignore[attr-defined]
                if reply:
                    self.port.write(reply)


class SimCardReader:
    """An ID-card reader on a pty: lay a card on it, take it away."""

    def __init__(self, link: Path) -> None:
        self.port = PtyPort(link, self._data)
        self.decoder = idcard.Decoder()
        self.card: bytes | None = None
        self.reads = 0
        self.sent: list[bytes] = []  # every frame the controller sent, for the privacy test

    def place(self, base_info: bytes) -> None:
        self.card = base_info

    def remove(self) -> None:
        self.card = None

    def _data(self, data: bytes) -> None:
        self.sent.append(data)
        for p in self.decoder.feed(data):
            cmd = (p.body[0], p.body[1]) if len(p.body) >= 2 else (0, 0)
            if cmd == idcard.FIND:
                reply = idcard.response(idcard.SW_FOUND if self.card else idcard.SW_NO_CARD)
            elif cmd == idcard.SELECT:
                reply = idcard.response(idcard.SW_OK if self.card else idcard.SW_NO_CARD)
            elif cmd == idcard.READ_BASE and self.card:
                self.reads += 1
                reply = idcard.response(idcard.SW_OK, self.card)
            else:
                reply = idcard.response(0x10)
            self.port.write(reply)


class _TcpSim:
    """A TCP device that can be stopped and started again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, self.host, self.port,
                                                 reuse_address=True)
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in list(self.writers):
                w.close()
            await self.server.wait_closed()
            self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        self.connections += 1
        try:
            while data := await reader.read(65536):
                reply = self.on_data(data)
                if not reply:
                    continue
                delay = self.reply_delay()
                if delay > 0:  # a slow device: the answer comes later, the link goes on
                    asyncio.get_running_loop().call_later(delay, _write_late, writer, reply)
                    continue
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def on_data(self, data: bytes) -> bytes | None:
        raise NotImplementedError

    def reply_delay(self) -> float:
        """Seconds before the answer to what just came goes out (0: at once)."""
        return 0.0


def _write_late(writer: asyncio.StreamWriter, reply: bytes) -> None:
    if not writer.is_closing():
        writer.write(reply)


class SimOnbonTcp(_TcpSim):
    def __init__(self, host: str, port: int, encoding: str = "gbk") -> None:
        super().__init__(host, port)
        self.card = SimOnbon(address=0xFFFE)
        self.decoder = onbon.Decoder(encoding)

    @property
    def text(self) -> str:
        return self.card.text

    def on_data(self, data: bytes) -> bytes | None:
        out = b""
        for f in self.decoder.feed(data):
            self.card.frames += 1
            self.card.log.append((asyncio.get_running_loop().time(), data))
            f2 = onbon.Frame(0xFFFE, f.source, f.group, f.command, f.payload, f.areas,
                             f.response_mode)
            out += self.card.handle(f2) or b""
        return out or None


class _PrinterLogic:
    """An ESC/POS printer's insides, whatever the cable: what it printed, its paper.

    Faults: `garbage` (an unreadable status answer), `silent` (the link is up but the
    status is never answered), `status_delay` (every status answer comes that many seconds
    late), `late_once` (only the next status answer comes that late)."""

    def __init__(self) -> None:
        self.interpreter = escpos.Interpreter()
        self.printed: list[escpos.Printed] = []
        self.paper_out = False
        self.garbage = False
        self.silent = False
        self.status_delay = 0.0
        self.late_once: float | None = None
        self.status_requests = 0
        self.raw = bytearray()
        self.changed = asyncio.Event()

    def on_data(self, data: bytes) -> bytes | None:
        self.raw += data
        cut, status = self.interpreter.feed(data)
        if cut:
            self.printed.extend(cut)
            self.changed.set()
        if status:
            self.status_requests += len(status)
            if self.silent:
                return None
            if self.garbage:
                return b"\xff\x00garbage"
            return bytes([escpos.status_byte(self.paper_out)]) * len(status)
        return None

    def reply_delay(self) -> float:
        if self.late_once is not None:
            delay, self.late_once = self.late_once, None
            return delay
        return self.status_delay


class SimPrinter(_PrinterLogic, _TcpSim):
    """The printer on TCP port 9100."""

    def __init__(self, host: str, port: int) -> None:
        _TcpSim.__init__(self, host, port)
        _PrinterLogic.__init__(self)


class SimSerialPrinter(_PrinterLogic):
    """The printer on a serial line (a pty): the same bytes, the status answered on it."""

    def __init__(self, link: Path) -> None:
        super().__init__()
        self.port = PtyPort(link, self._data)

    def _data(self, data: bytes) -> None:
        reply = self.on_data(data)
        if not reply:
            return
        delay = self.reply_delay()
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.port.write, reply)
        else:
            self.port.write(reply)


class SimCounter:
    """A people counter: pymodbus's own Modbus TCP server, registers as the profile maps them
    (u32 big-word-first in and out at `in_address` and `out_address`)."""

    def __init__(self, host: str, port: int, in_address: int = 0, out_address: int = 2,
                 unit: int = 1) -> None:
        self.host = host
        self.port = port
        self.in_address = in_address
        self.out_address = out_address
        self.unit = unit
        self.counts = (0, 0)
        self.server: Any = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        size = max(self.in_address, self.out_address) + 2
        device = SimDevice(id=self.unit, simdata=[SimData(0, values=[0] * size,
                                                          datatype=DataType.REGISTERS)])
        self.server = ModbusTcpServer(device, address=(self.host, self.port))
        self.task = asyncio.get_running_loop().create_task(self.server.serve_forever())
        for _ in range(300):
            if self.server.is_active():
                break
            await asyncio.sleep(0.01)
        await self.set_counts(*self.counts)

    async def set_counts(self, entered: int, left: int) -> None:
        self.counts = (entered, left)
        if self.server is None:
            return
        await self.server.async_setValues(self.unit, 16, self.in_address,
                                          [entered >> 16, entered & 0xFFFF])
        await self.server.async_setValues(self.unit, 16, self.out_address,
                                          [left >> 16, left & 0xFFFF])

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.server = self.task = None


class SimCounterRtu(SimCounter):
    """A people counter on Modbus RTU: pymodbus's own serial server on one pty, bridged to
    a second pty whose slave end is linked where the daemon looks for the port."""

    def __init__(self, link: Path, unit: int = 1, in_address: int = 0, out_address: int = 2,
                 baudrate: int = 9600) -> None:
        super().__init__("", 0, in_address, out_address, unit)
        self.link = link
        self.baudrate = baudrate
        self._fds: list[int] = []

    async def start(self) -> None:
        import tty

        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        loop = asyncio.get_running_loop()
        ends = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            ends.append((master, slave))
            self._fds += [master, slave]
        (ma, sa), (mb, sb) = ends

        def pipe(src: int, dst: int) -> None:
            def copy() -> None:
                try:
                    os.write(dst, os.read(src, 4096))
                except OSError:
                    pass
            loop.add_reader(src, copy)

        pipe(ma, mb)
        pipe(mb, ma)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".new")
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(os.ttyname(sb))
        os.replace(tmp, self.link)
        size = max(self.in_address, self.out_address) + 2
        device = SimDevice(id=self.unit, simdata=[SimData(0, values=[0] * size,
                                                          datatype=DataType.REGISTERS)])
        self.server = ModbusSerialServer(device, framer=FramerType.RTU, port=os.ttyname(sa),
                                         baudrate=self.baudrate)
        self.task = loop.create_task(self.server.serve_forever())
        for _ in range(300):
            if self.server.is_active():
                break
            await asyncio.sleep(0.01)
        await self.set_counts(*self.counts)

    async def stop(self) -> None:
        await super().stop()
        loop = asyncio.get_running_loop()
        for fd in self._fds:
            loop.remove_reader(fd)
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
