"""The device manager: builds a link per bus or device, keeps displays in step with the
hall, and turns what devices report into commands through the single writer.

- After every committed group, each device's content is recomputed from the state (pure
  functions, controller/devices/content.py); a changed content wakes its link.
- Keypad keys become window commands, evaluator keys evaluations, card swipes tickets;
  each is submitted with the actor `device:<id>`, so the log says which device asked.
- A kiosk ticket is printed; a ticket whose print was tried and failed is voided
  (`VoidTicket`) and never called, and its number is not given out again. With the printer
  offline (its link down, or up but unanswered `offline_after` times) no print is tried:
  the kiosk screen shows the ticket (number and QR code).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.engine import Outcome
from controller.core.evaluations import rating_of
from controller.core.identity import keyed_hash
from controller.core.state import HallState, TicketStatus
from controller.core.views import waiting_ahead
from controller.core.voids import VoidTicket
from controller.devices.bus import Bus, serial_opener, tcp_opener
from controller.devices.config import profiles
from controller.devices.content import call_mark, content_for
from controller.devices.counter import CounterLink
from controller.devices.health import Status
from controller.devices.printer import Printer, PrintFailed
from controller.devices.reader import CardReader
from controller.devices.runtime import SHOW, Device
from controller.store.eventlog import Envelope, StoreError
from controller.store.ids import new_id
from controller.store.sealed import SealedIdentities
from controller.store.writer import Reply, Writer
from firmware_bridges import escpos, idcard, keypad

log = structlog.get_logger("devices")

PAUSE_REASON = "呼叫器暂停"
REFUSED = "E--"  # what a keypad shows when its key did nothing (with a beep)
# Tickets taken at the kiosk's screen and appointments checked in there get paper; a card
# swipe's ticket is printed by its reader's own printer (channel idcard, below).
PRINTED_CHANNELS = ("kiosk", "appointment")
_RUNNING: weakref.WeakKeyDictionary[Writer, DeviceManager] = weakref.WeakKeyDictionary()


def running(writer: Writer) -> DeviceManager | None:
    """The manager of the daemon that owns this writer (for the API)."""
    return _RUNNING.get(writer)


def _render(state: HallState, outcome: Outcome) -> Reply:
    r = outcome.refusal
    return (r.status, {"error": r.code, "detail": r.detail}) if r else (200, {})


class DeviceManager:
    def __init__(self, cfg: HallConfig, writer: Writer, identity_key: bytes, data_dir: Path,
                 public_url: str | None = None, sealed: SealedIdentities | None = None
                 ) -> None:
        self.cfg = cfg
        self.writer = writer
        self.key = identity_key
        self.sealed = sealed  # ID numbers held for real-name review reports
        self.data_dir = data_dir
        self.public_url = public_url
        known = profiles()
        self.devices: dict[str, Device] = {
            e.id: Device.of(e, known[e.profile]) for e in cfg.devices}
        self.links: dict[str, Any] = {}
        self.link_of: dict[str, Any] = {}  # device id -> its link
        self.printers: dict[str, Printer] = {}
        # keypad id -> (text, until): a key's result shown instead of the digits for a while
        self.shows: dict[str, tuple[str, float]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._build()
        self.refresh()

    # ---- wiring -----------------------------------------------------------------------

    def _port(self, raw: str) -> Path:
        """A relative port is a name in the data directory (the simulators put links there)."""
        p = Path(raw)
        return p if p.is_absolute() else self.data_dir / p

    def _build(self) -> None:
        buses: dict[str, list[Device]] = {}
        for d in self.devices.values():
            e, t = d.entry, d.profile.transport
            if e.kind == "printer":
                opener = (tcp_opener(e.host, e.tcp_port) if e.host and e.tcp_port else
                          serial_opener(self._port(e.port or ""), t.baudrate, t.bytesize,
                                        t.parity, t.stopbits))
                link: Any = Printer(d, opener)
                self.printers[d.id] = link
                self._add(d.id, link, [d])
            elif e.kind == "idcard":
                opener = serial_opener(self._port(e.port or ""), t.baudrate, t.bytesize,
                                       t.parity, t.stopbits)
                self._add(d.id, CardReader(d, opener, self._hasher, self._on_card,
                                            self.sealed is not None), [d])
            elif e.kind == "counter":
                rtu = self._port(e.port) if e.port else None
                self._add(d.id, CounterLink(d, self._on_reading, rtu), [d])
            elif e.host and e.tcp_port:
                self._add(d.id, Bus(d.id, tcp_opener(e.host, e.tcp_port), [d], self._on_press),
                          [d])
            else:
                buses.setdefault(e.port or "", []).append(d)
        for port, devs in buses.items():
            t = devs[0].profile.transport
            devs.sort(key=lambda x: x.address)
            opener = serial_opener(self._port(port), t.baudrate, t.bytesize, t.parity,
                                   t.stopbits)
            self._add(f"bus:{port}", Bus(port, opener, devs, self._on_press), devs)

    def _add(self, name: str, link: Any, devs: list[Device]) -> None:
        self.links[name] = link
        for d in devs:
            self.link_of[d.id] = link

    def start(self, start: Callable[[str, Callable[[], Any]], None]) -> None:
        """`start` is Supervisor.start: one supervised task per link."""
        _RUNNING[self.writer] = self
        self.writer.subscribe(self.on_events)
        for name, link in self.links.items():
            start(f"devices:{name}", link.run)

    async def stop(self) -> None:
        _RUNNING.pop(self.writer, None)
        for h in self._timers:
            h.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- content ----------------------------------------------------------------------

    def refresh(self) -> None:
        state = self.writer.state
        woken: set[int] = set()
        now = time.monotonic()
        for d in self.devices.values():
            content = content_for(state, self.cfg, d.entry, d.lines())
            shown = self.shows.get(d.id)
            if shown is not None:
                if shown[1] > now:
                    content = (SHOW, shown[0])
                else:
                    del self.shows[d.id]
            mark = call_mark(state, self.cfg, d.entry)
            if mark != d.mark:
                d.mark = mark
                if mark is not None and content == d.content:
                    d.sent.clear()  # a recall: the same text, sent again
                    d.delivered = None
                    content = d.content  # falls through to the wake-up below
                    d.content = None
            if content != d.content:
                d.content = content
                link = self.link_of.get(d.id)
                if isinstance(link, Bus) and id(link) not in woken:
                    woken.add(id(link))
                    link.poke()

    def on_events(self, envelopes: list[Envelope]) -> None:
        """Called by the writer after each commit, inside its task: it must be quick and
        must never raise (a device bug may not stop the writer or the subscribers after
        this one)."""
        try:
            self._on_events(envelopes)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("device_refresh_failed")

    def _on_events(self, envelopes: list[Envelope]) -> None:
        self.refresh()
        for e in envelopes:
            if (e.type == "ticket.issued" and e.data.get("channel") in PRINTED_CHANNELS
                    and self.printers):
                printer = next(iter(self.printers.values()))
                self._spawn(self._print(printer, str(e.data["ticket_id"])))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, device: Device, command: Any) -> Reply:
        try:
            status, body = await self.writer.submit(command, _render, f"device:{device.id}")
        except StoreError as exc:  # shutting down, or the disk failed: the device may retry
            log.warning("device_command_not_committed", device=device.id,
                        command=type(command).__name__, error=str(exc))
            return 503, {"error": "store_unavailable", "detail": str(exc)}
        if status >= 300:
            log.info("device_command_refused", device=device.id,
                     command=type(command).__name__, error=body.get("error"))
        return status, body

    # ---- keys -------------------------------------------------------------------------

    def _on_press(self, device: Device, press: keypad.Press) -> None:
        action = self.action_of(device, press)
        if action == "evaluate":
            self.prompt_evaluation(device)
            return
        command = self.command_for(device, press)
        if command is not None:
            self._spawn(self._act(device, command))
        elif device.entry.kind == "keypad" and action is not None:
            self.show_result(device, REFUSED, beep=True)  # e.g. transfer with no digits

    async def _act(self, device: Device, command: Any) -> None:
        """Submits a key's command; the keypad shows E-- and beeps when it was refused, and
        the target window for a transfer that was done."""
        status, _ = await self._submit(device, command)
        if device.entry.kind != "keypad":
            return
        if status >= 300:
            self.show_result(device, REFUSED, beep=True)
        elif isinstance(command, c.Transfer) and command.to_window is not None:
            self.show_result(device, f"--{command.to_window:>4}")

    def show_result(self, device: Device, text: str, beep: bool = False) -> None:
        """The keypad shows `text` for its profile's `result_ms`, then its digits again."""
        if beep:
            device.once.append(keypad.beep(device.address))
        hold = device.profile.keypad.result_ms / 1000
        if hold > 0:
            self.shows[device.id] = (text, time.monotonic() + hold)
            handle = asyncio.get_running_loop().call_later(hold + 0.01, self._expire)
            self._timers.add(handle)
        self.refresh()
        link = self.link_of.get(device.id)
        if isinstance(link, Bus):
            link.poke()  # the beep, even when the text was shown already

    def _expire(self) -> None:
        now = time.monotonic()
        self._timers = {h for h in self._timers if h.when() > asyncio.get_running_loop().time()}
        if any(until <= now for _, until in self.shows.values()):
            self.on_events([])  # refresh, never raising

    def prompt_evaluation(self, device: Device) -> None:
        """The evaluate key (0x0B): the window's evaluators are told to take a rating (a
        beep, FUNC 0x03: the prompt these evaluators have) for the window's last completed
        service; the rating itself comes from the evaluator's key, as always. Nothing is
        recorded here. With nothing to rate (no completed service, or it was rated) the
        keypad shows E-- and beeps; a window with no evaluator: the keypad beeps."""
        window = device.entry.window
        if window is None:
            return
        state = self.writer.state
        last = state.window(window).last_completed
        ticket = state.tickets.get(last) if last else None
        rated = ticket is not None and rating_of(state, ticket, "keypad", at_window=True)[1] is None
        if ticket is None or rated:
            self.show_result(device, REFUSED, beep=True)
            return
        evaluators = [d for d in self.devices.values()
                      if d.entry.kind == "evaluator" and d.entry.window == window
                      and d.profile.codec == "keypad"]
        for d in evaluators or [device]:
            d.once.append(keypad.beep(d.address))
            d.info["prompted"] = d.info.get("prompted", 0) + 1
            link = self.link_of.get(d.id)
            if isinstance(link, Bus):
                link.poke()
        log.info("evaluation_prompted", device=device.id, window=window, number=ticket.number,
                 evaluators=[d.id for d in evaluators])

    def action_of(self, device: Device, press: keypad.Press) -> str | None:
        """The profile's action of a key, after the digit before CONFIRM picked one."""
        if press.level is not None:
            return None
        action = device.profile.keys.get(press.key if press.key is not None else -1)
        if action == "confirm":
            return {1: "no_show", 2: "suspend", 3: "call_back"}.get(
                press.digit if press.digit is not None else -1, "confirm")
        return action

    def command_for(self, device: Device, press: keypad.Press) -> Any:
        window = device.entry.window
        if window is None:
            return None
        if press.level is not None:
            reasons: tuple[str, ...] = ()
            if press.level <= 2 and device.entry.bad_reason:
                reasons = (device.entry.bad_reason,)
            return c.Evaluate(new_id(), press.level, "keypad", reasons=reasons,
                              pad_window=window)
        action = self.action_of(device, press)
        if action == "call":
            return c.CallNext(window)
        if action == "recall":
            return c.Recall(window)
        if action == "no_show":
            return c.NoShow(window)
        if action == "complete":
            return c.Complete(window)
        if action == "suspend":
            return c.Suspend(window)
        if action == "pause":
            return c.PauseWindow(window, PAUSE_REASON)
        if action == "resume":
            return c.ResumeWindow(window)
        if action == "call_back":
            # the window's most recently suspended ticket (state.suspended keeps the order
            # of suspension)
            held = [t for t in self.writer.state.suspended.values() if t.window == window]
            if held:
                return c.CallBack(window, held[-1].id)
        if action == "transfer" and press.number is not None:
            # digits + TRANSFER: to that window (the convention of caller keypads: the clerk
            # knows the window numbers; a category would need a code list on the keypad)
            return c.Transfer(window, device.profile.keypad.transfer_reason,
                              to_window=press.number)
        # "confirm" with no digit, or transfer with none: nothing; evaluate: prompt_evaluation
        return None

    # ---- tickets, printing, cards -----------------------------------------------------

    def _local(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, self.cfg.day.timezone)

    def ticket_content(self, ticket_id: str) -> escpos.TicketContent | None:
        state = self.writer.state
        t = state.tickets.get(ticket_id)
        if t is None or t.status is not TicketStatus.WAITING:
            return None
        label = None
        if t.priority:
            label = next((p.label for p in self.cfg.priorities if p.name == t.priority), None)
        qr = f"{self.public_url}/api/display/tickets/{t.id}" if self.public_url else None
        return escpos.TicketContent(
            title=self.cfg.hall_name, hall=self.cfg.review.dept_name or self.cfg.hall_name,
            category=self.cfg.categories[t.category].name, number=t.number,
            waiting_ahead=waiting_ahead(state, self.cfg, t),
            issued_at=self._local(t.issued_at).strftime("%Y-%m-%d %H:%M"), qr=qr,
            priority=label.split("（")[0] if label else None)

    async def _print(self, printer: Printer, ticket_id: str) -> None:
        dev = printer.device
        if not printer.connected or dev.health.status is Status.OFFLINE:
            # No print was tried: the kiosk screen that took the ticket shows its number
            # and QR code, so the ticket stands. Only a print that was tried and failed
            # (the kiosk said "printing" and nothing came out) voids it. A printer whose
            # link is up but that stopped answering is offline too: trying it would only
            # void every ticket.
            dev.info["unprinted"] = dev.info.get("unprinted", 0) + 1
            log.debug("ticket_not_printed", device=dev.id, reason="printer offline")
            return
        content = self.ticket_content(ticket_id)
        if content is None:
            return
        try:
            await printer.print(ticket_id, content)
            log.info("ticket_printed", device=printer.device.id, number=content.number)
        except PrintFailed as exc:
            log.warning("ticket_print_failed", device=printer.device.id,
                        number=content.number, error=str(exc))
            await self._submit(printer.device, VoidTicket(ticket_id, f"print failed: {exc}"))

    def _hasher(self, number: str) -> str:
        return keyed_hash(self.key, number)

    async def _on_card(self, device: Device, card: idcard.CardIdentity) -> None:
        e = device.entry
        today = self._local(self.writer.clock()).date()
        elderly = e.priority_group is not None and card.age_on(today) >= e.priority_age
        ticket_id = new_id()
        command = c.IssueTicket(ticket_id, e.category or next(iter(self.cfg.categories)),
                                "idcard", e.priority_group if elderly else None,
                                card.identity_hash)
        status, body = await self._submit(device, command)
        if status >= 300:
            device.info["last_refusal"] = body.get("error")
            return
        if self.sealed is not None and card.number is not None:
            try:
                await self.sealed.seal(ticket_id, card.number, card.name)
            except Exception:  # the ticket stands: at worst its report goes anonymous
                log.exception("identity_not_sealed", device=device.id)
        number = self.writer.state.tickets[ticket_id].number
        log.info("card_ticket", device=device.id, number=number, priority=bool(elderly))
        printer = self.printers.get(e.printer or "")
        if printer is not None:
            await self._print(printer, ticket_id)

    async def _on_reading(self, device: Device, counts: dict[str, int]) -> None:
        from controller.core.flow import CounterReading

        await self._submit(device, CounterReading(device.id, in_total=counts.get("in"),
                                                  out_total=counts.get("out")))

    # ---- status -----------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        return [d.view() for d in self.devices.values()]
