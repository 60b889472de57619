"""The daemon: store, writer, web and timers under one supervisor, until SIGTERM.

Order matters on the way out: stop listening, let in-flight requests get their answers
(the writer is still running), drain what is queued, then close the log. Nothing a client
was told is committed is lost, and nothing uncommitted is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from controller.config import ConfigError
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.engine import Outcome
from controller.core.state import HallState, ReportState
from controller.daemon.lock import DataDirLock
from controller.daemon.notify import notify, watchdog_interval
from controller.daemon.supervisor import Supervisor
from controller.store.eventlog import EventLog
from controller.store.keys import load_or_create_key
from controller.store.sealed import SealedIdentities
from controller.store.writer import Reply, Writer, rebuild
from controller.sync.cursor import CursorStore
from controller.sync.downlink import DownlinkHandler
from controller.sync.review_uplink import LINK as REVIEW_LINK
from controller.sync.review_uplink import ReviewUplink
from controller.sync.service import LINK as MQTT_LINK
from controller.sync.service import MqttSync
from controller.web.api import Hall
from controller.web.app import build_app
from controller.web.auth import Authenticator

log = structlog.get_logger("daemon")

TICK_S = 5.0
WRITER_STALL_S = 30.0


def split_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT (or [v6]:PORT) to its parts; ValueError naming what is wrong."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"listen address must be HOST:PORT with a port 1-65535, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _tick_reply(state: HallState, outcome: Outcome) -> Reply:
    return 200, {}


async def _ticker(writer: Writer) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        await writer.submit(c.Tick(), _tick_reply, "system")


async def _watchdog(writer: Writer, interval: float) -> None:
    """Pings systemd only while the writer is making progress: a stuck writer gets restarted."""
    while True:
        stalled = (writer.unanswered > 0
                   and time.time() - writer.last_commit_at > WRITER_STALL_S)
        if not stalled:
            notify("WATCHDOG=1")
        await asyncio.sleep(interval)


StatusFn = Callable[[], Awaitable[dict[str, Any]]]


def _not_configured(link: str, cursors: CursorStore, writer: Writer) -> StatusFn:
    """No such link configured: the hall runs, and the backlog simply waits for one."""
    async def status() -> dict[str, Any]:
        acked = await cursors.get(link)
        backlog = (writer.state.last_seq - acked if link == MQTT_LINK else
                   sum(1 for e in writer.state.evaluations.values()
                       if e.report is ReportState.PENDING))
        return {"link": link, "url": None, "state": "not_configured", "connected": False,
                "cursor": acked, "backlog": max(0, backlog), "oldest_unsent_age_s": None,
                "last_error": None}
    return status


def _all_links(parts: list[StatusFn]) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    async def status() -> list[dict[str, Any]]:
        return [await part() for part in parts]
    return status


def _read_secret(cfg: HallConfig) -> bytes | None:
    if cfg.cloud.secret_file is None:
        return None
    try:
        secret = cfg.cloud.secret_file.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(cfg.source, "cloud.secret_file", f"cannot be read: {exc}") from None
    if not secret:
        raise ConfigError(cfg.source, "cloud.secret_file", "the file is empty")
    return secret


async def serve(cfg: HallConfig, data_dir: Path, listen: str,
                stop: asyncio.Event | None = None) -> None:
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        await _serve_locked(cfg, data_dir, listen, stop or asyncio.Event())
    finally:
        lock.release()


async def _serve_locked(cfg: HallConfig, data_dir: Path, listen: str, stop: asyncio.Event) -> None:
    started = time.time()
    host, port = split_listen(listen)  # problems with the input stop the start first
    secret = _read_secret(cfg)
    key = load_or_create_key(data_dir)
    async with contextlib.AsyncExitStack() as stack:  # whatever opened is closed, always
        event_log = await EventLog.open(data_dir, cfg.store.max_size_mb)
        stack.push_async_callback(event_log.close)
        cursors = await CursorStore.open(data_dir)
        stack.push_async_callback(cursors.close)
        state = await rebuild(event_log)
        writer = Writer(cfg, event_log, state)
        await writer.load_answers()
        hall = Hall(cfg, writer, event_log, Authenticator(event_log), key, started)
        mqtt = review = None
        if cfg.cloud.mqtt_url:
            mqtt = MqttSync(cfg, cfg.cloud.mqtt_url, event_log, writer, cursors,
                            DownlinkHandler(cfg, writer, key))
        if cfg.cloud.evaluation_url:
            if cfg.review.real_name:
                hall.sealed = await SealedIdentities.open(data_dir)
                stack.push_async_callback(hall.sealed.close)
            review = ReviewUplink(cfg, cfg.cloud.evaluation_url, secret, event_log, writer,
                                  cursors, cfg.cloud.evaluation_timeout_s, sealed=hall.sealed)
        hall.sync_status = _all_links([
            mqtt.status if mqtt else _not_configured(MQTT_LINK, cursors, writer),
            review.status if review else _not_configured(REVIEW_LINK, cursors, writer),
        ])
        supervisor = Supervisor()
        stack.push_async_callback(supervisor.stop)
        supervisor.start("writer", writer.run)
        # On the way out, in this order: stop listening (in-flight requests still get
        # their answers), stop the timers, let the writer empty its queue; then the
        # callbacks above stop the remaining parts and close the files.
        stack.push_async_callback(writer.drain)
        stack.push_async_callback(supervisor.stop, ["ticker", "watchdog"])
        runner = web.AppRunner(build_app(hall), access_log=None, shutdown_timeout=10.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        if mqtt is not None:
            supervisor.start("mqtt", mqtt.run)
        if review is not None:
            supervisor.start("haochaping", review.run)
        # Voice: one playback queue following the committed calls (controller/voice/).
        from controller.voice.player import VoicePlayer
        voice = VoicePlayer(cfg, data_dir / "voice")
        if voice.audible:
            writer.subscribe(voice.on_events)
            supervisor.start("voice", voice.run)
        # Devices: one supervised task per RS-485 bus or network device (controller/devices/).
        if cfg.devices:
            from controller.devices.manager import DeviceManager
            devices = DeviceManager(cfg, writer, key, data_dir, f"http://{host}:{port}",
                                    sealed=hall.sealed)
            devices.start(supervisor.start)
            stack.push_async_callback(devices.stop)
        supervisor.start("ticker", lambda: _ticker(writer))
        interval = watchdog_interval()
        if interval:
            supervisor.start("watchdog", lambda: _watchdog(writer, interval))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("ready", hall=cfg.hall_id, listen=f"{host}:{port}", data_dir=str(data_dir),
                 events=state.last_seq, startup_s=round(time.time() - started, 3))
        notify("READY=1")
        await stop.wait()
        notify("STOPPING=1")
        log.info("stopping")
    log.info("stopped", last_seq=writer.state.last_seq)
