"""`hallctl run` as a real process: SIGTERM drains, one daemon per data directory,
sd_notify, JSON logs on stderr, and clear refusals at start.

The drain test is deterministic: the test takes SQLite's write lock itself, so the
daemon's writer blocks and requests pile up inside it; only then is SIGTERM sent, and the
lock is released once the daemon has said it is stopping. Every request counted as
in flight must then be answered 201 and be found after a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.config import DEFAULT_CONFIG
from controller.daemon.notify import notify, watchdog_interval
from controller.store.eventlog import DB_NAME
from tests.conftest import REPO, Api, DaemonProcess, free_port, make_tokens, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


# ---- helpers ----------------------------------------------------------------------------

async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0,
                   what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_exit(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    return await asyncio.to_thread(proc.wait, timeout)


def log_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def integrity(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


async def health(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(base + "/healthz") as resp:
        assert resp.status == 200
        return await resp.json()  # type: ignore[no-any-return]


async def refuses_connections(port: int) -> bool:
    try:
        _, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    w.close()
    return False


def spawn(data_dir: Path, port: int, *extra: str, env: dict[str, str] | None = None,
          stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE
          ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "controller", "run", "--config", str(DEFAULT_CONFIG),
         "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *extra],
        cwd=REPO, env=env or dict(os.environ), stdout=stdout, stderr=stderr)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself; any still alive at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


# ---- SIGTERM ----------------------------------------------------------------------------

async def test_sigterm_answers_every_request_in_flight_then_exits_0(
        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir)
    await d.started()
    assert d.proc is not None
    n = 30
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        assert (await api.issue("A"))["number"] == "A001"

        blocker = sqlite3.connect(d.data_dir / DB_NAME, isolation_level=None, timeout=1)
        blocker.execute("BEGIN IMMEDIATE")  # the daemon's next commit waits for this lock
        try:
            async def post() -> tuple[int, Any]:
                return await api.call("POST", "/api/tickets", tokens.kiosk, {"category": "B"})

            # The first request is written in full; the daemon's loop hands it to the
            # writer, whose commit is now blocked on the lock...
            plug = await RawPost.send(d.port, tokens.kiosk, {"category": "B"})
            await wait_for(lambda: _queued(d.base, 1), what="the first command taken")
            # ...so every later request waits inside the daemon, unanswered (the timer's
            # tick may wait with them).
            rest = [asyncio.ensure_future(post()) for _ in range(n - 1)]
            await wait_for(lambda: _queued(d.base, n), what="all commands queued")

            d.proc.send_signal(signal.SIGTERM)
            await wait_for(lambda: _logged(d, "stopping"), what="'stopping' in the log")
            await wait_for(lambda: refuses_connections(d.port), what="listener closed")
            assert d.proc.poll() is None  # still draining: nothing could commit yet
            assert not any(f.done() for f in rest)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        answers = [await asyncio.wait_for(plug.answer(), 20),
                   *await asyncio.wait_for(asyncio.gather(*rest), 20)]
        assert await wait_exit(d.proc) == 0

    assert [status for status, _ in answers] == [201] * n
    numbers = sorted(body["number"] for _, body in answers)
    assert numbers == [f"B{i:03d}" for i in range(1, n + 1)]
    events = log_events(d.log_text())
    assert [e["event"] for e in events if e["event"] in ("ready", "stopping", "stopped")] == [
        "ready", "stopping", "stopped"]
    # Every committed event was committed before the exit (a timer tick may have added one).
    conn = sqlite3.connect(d.data_dir / DB_NAME)
    try:
        (stored,) = conn.execute("SELECT MAX(seq) FROM events").fetchone()
    finally:
        conn.close()
    assert stored >= n + 1
    assert events[-1]["event"] == "stopped" and events[-1]["last_seq"] == stored

    await d.started()
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        for _, body in answers:
            status, ticket = await api.call("GET", f"/api/tickets/{body['id']}", tokens.kiosk)
            assert (status, ticket["number"], ticket["status"]) == (
                200, body["number"], "waiting")
        assert (await api.issue("B"))["number"] == f"B{n + 1:03d}"
    assert d.terminate() == 0


class RawPost:
    """A POST written in full on its own connection; the answer is read later."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def send(cls, port: int, token: str, body: dict[str, Any]) -> RawPost:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = json.dumps(body).encode()
        writer.write(
            f"POST /api/tickets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n".encode() + raw)
        await writer.drain()
        return cls(reader, writer)

    async def answer(self) -> tuple[int, Any]:
        data = await self.reader.read()
        self.writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)


async def _queued(base: str, n: int) -> bool:
    """At least `n` commands taken and unanswered (a timer tick may be one more)."""
    return int((await health(base))["queued_commands"]) >= n


async def _logged(d: DaemonProcess, event: str) -> bool:
    return any(e["event"] == event for e in log_events(d.log_text()))


async def test_sigterm_under_load_loses_no_acknowledged_ticket(
        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir)
    await d.started()
    assert d.proc is not None
    proc = d.proc
    acked: dict[str, str] = {}
    failures: list[BaseException] = []
    signalled = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = Api(d.base, session, tokens)

        async def post(i: int) -> None:
            cat = "AB"[i % 2]
            try:
                status, body = await api.call("POST", "/api/tickets", tokens.kiosk,
                                              {"category": cat})
            except aiohttp.ClientError as exc:
                failures.append(exc)
                return
            assert status == 201, body  # nothing but a 201 or no answer at all
            acked[body["id"]] = body["number"]
            if len(acked) == 60 and not signalled.is_set():
                proc.send_signal(signal.SIGTERM)
                signalled.set()

        await asyncio.gather(*(post(i) for i in range(300)))
        assert signalled.is_set()
        assert await wait_exit(proc) == 0

    assert len(acked) >= 60
    assert len(acked) + len(failures) == 300
    await d.started()
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        for ticket_id, number in acked.items():
            status, ticket = await api.call("GET", f"/api/tickets/{ticket_id}", tokens.kiosk)
            assert (status, ticket["number"]) == (200, number)
        status, queue = await api.call("GET", "/api/queue")
        issued = {c["prefix"]: c["issued_today"] for c in queue["categories"]}
        for cat in "AB":
            mine = sorted(int(n[1:]) for n in acked.values() if n[0] == cat)
            assert not mine or mine[-1] <= issued[cat]
            assert (await api.issue(cat))["number"] == f"{cat}{issued[cat] + 1:03d}"
    assert d.terminate() == 0


# ---- one daemon per data directory ------------------------------------------------------

async def test_a_second_daemon_on_the_same_directory_is_refused(
        daemon_process: DaemonProcess, procs: list[subprocess.Popen[bytes]]) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir)
    await d.started()
    assert d.proc is not None
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        assert (await api.issue("A"))["number"] == "A001"

        second_port = free_port()
        second = spawn(d.data_dir, second_port)
        procs.append(second)
        out, err = await asyncio.to_thread(second.communicate, None, 20)
        assert second.returncode == 1
        message = err.decode()
        assert message == (f"hallctl: another hall controller (pid {d.proc.pid}) is running "
                           f"on {d.data_dir}\n")
        assert out == b""
        assert await refuses_connections(second_port)

        # The first one never noticed: it serves, and its file is whole.
        assert d.proc.poll() is None
        assert (await api.issue("A"))["number"] == "A002"
        assert integrity(d.data_dir / DB_NAME) == [("ok",)]
    assert d.terminate() == 0

    # Once the first has gone, the directory is free again.
    await d.started()
    assert d.terminate() == 0


# ---- sd_notify --------------------------------------------------------------------------

class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hcn"))  # short: sun_path has 108 bytes
        self.path = self.dir / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)
        self.received: list[tuple[float, str]] = []

    async def next(self, timeout: float = 10.0) -> str:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout)
        message = data.decode()
        self.received.append((time.monotonic(), message))
        return message

    def drain(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return out
            out.append(data.decode())
            self.received.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.dir.rmdir()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    s = NotifySocket()
    yield s
    s.close()


async def test_sd_notify_ready_then_watchdog_then_stopping(
        daemon_process: DaemonProcess, notify_socket: NotifySocket,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    d = daemon_process
    d.start()
    assert d.proc is not None
    assert await notify_socket.next() == "READY=1"
    await wait_healthy(d.base, 5)  # READY comes once it serves
    assert await notify_socket.next() == "WATCHDOG=1"
    assert await notify_socket.next() == "WATCHDOG=1"
    assert await notify_socket.next() == "WATCHDOG=1"
    times = [t for t, m in notify_socket.received if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Pinged at about half of WATCHDOG_USEC, well inside the one second systemd allows.
    assert all(0.3 < g < 0.9 for g in gaps), gaps

    d.proc.send_signal(signal.SIGTERM)
    while (message := await notify_socket.next()) == "WATCHDOG=1":
        pass
    assert message == "STOPPING=1"
    assert await wait_exit(d.proc) == 0
    assert set(notify_socket.drain()) <= {"WATCHDOG=1"}


async def test_sd_notify_without_a_watchdog_sends_ready_and_stopping_only(
        daemon_process: DaemonProcess, notify_socket: NotifySocket,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    d = daemon_process
    await d.started()
    assert d.proc is not None
    assert await notify_socket.next() == "READY=1"
    assert d.terminate() == 0
    assert notify_socket.drain() == ["STOPPING=1"]


def test_watchdog_interval_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    assert watchdog_interval() == 1.5
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 1.5
    monkeypatch.setenv("WATCHDOG_PID", "1")  # the watchdog is meant for another process
    assert watchdog_interval() is None


async def test_notify_sends_one_datagram_or_reports_false(
        notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    assert notify("STATUS=serving 16 windows") is True
    assert await notify_socket.next(2) == "STATUS=serving 16 windows"
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.dir / "gone.sock"))
    assert notify("READY=1") is False


async def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"hallctl-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1") is True
        assert sock.recv(64) == b"READY=1"


async def test_no_notify_socket_no_trouble(daemon_process: DaemonProcess,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    d = daemon_process
    await d.started()
    assert d.terminate() == 0


# ---- logs -------------------------------------------------------------------------------

async def test_logs_on_stderr_are_one_json_object_per_line(
        tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir)
    port = free_port()
    err_path, out_path = tmp_path / "stderr", tmp_path / "stdout"
    with err_path.open("wb") as err, out_path.open("wb") as out:
        proc = spawn(data_dir, port, stdout=out, stderr=err)
    procs.append(proc)
    base = f"http://127.0.0.1:{port}"
    await wait_healthy(base)
    async with aiohttp.ClientSession() as session:
        api = Api(base, session, tokens)
        await api.issue("A")
        assert (await api.call("POST", "/api/tickets", tokens.kiosk, {"category": "Z"}))[0] == 400
        assert (await api.call("POST", "/api/tickets", None, {"category": "A"}))[0] == 401
        assert (await api.call("POST", "/api/tickets", tokens.kiosk, data=b"{nope"))[0] == 400
        assert (await api.call("GET", "/no/such/path"))[0] == 404
    proc.send_signal(signal.SIGTERM)
    assert await wait_exit(proc) == 0

    assert out_path.read_bytes() == b""
    lines = err_path.read_text(encoding="utf-8").splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # each line parses on its own
    for record in records:
        assert isinstance(record, dict)
        assert isinstance(record["event"], str) and record["event"]
        assert record["level"] in {"debug", "info", "warning", "error", "critical"}
        assert record["timestamp"].endswith("Z")
    ready = next(r for r in records if r["event"] == "ready")
    assert ready["level"] == "info"
    assert ready["listen"] == f"127.0.0.1:{port}"
    assert ready["data_dir"] == str(data_dir)
    assert [r["event"] for r in records][-2:] == ["stopping", "stopped"]


async def test_a_malformed_http_request_does_not_break_the_json_log(
        tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    err_path = tmp_path / "stderr"
    with err_path.open("wb") as err:
        proc = spawn(data_dir, port, stdout=subprocess.DEVNULL, stderr=err)
    procs.append(proc)
    await wait_healthy(f"http://127.0.0.1:{port}")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    writer.close()
    proc.send_signal(signal.SIGTERM)
    assert await wait_exit(proc) == 0
    for line in err_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert "event" in record and "level" in record


# ---- refusals at start ------------------------------------------------------------------

async def test_a_config_error_at_start_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "hall.toml"
    bad.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        "recall_limit = 2 ", "recall_limt = 2 ", 1), encoding="utf-8")
    data_dir = tmp_path / "data"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "controller", "run", "--config", str(bad),
         "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{free_port()}"],
        cwd=REPO, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr == (
        f"hallctl: configuration error: {bad}: queue.recall_limt: unknown key\n")
    assert not data_dir.exists()  # refused before touching anything


async def test_a_port_in_use_exits_1_and_leaves_the_directory_usable(
        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", d.port))
        squatter.listen()
        d.start()
        assert d.proc is not None
        assert await wait_exit(d.proc) == 1
    text = d.log_text()
    assert "hallctl: cannot start:" in text
    assert "address already in use" in text
    assert "Traceback" not in text
    assert not any(e["event"] == "ready" for e in log_events(text))
    # The lock was released and the file is whole: the next start works.
    assert integrity(d.data_dir / DB_NAME) == [("ok",)]
    await d.started()
    async with aiohttp.ClientSession() as session:
        assert (await Api(d.base, session, tokens).issue("A"))["number"] == "A001"
    assert d.terminate() == 0


async def test_a_damaged_event_log_is_refused_at_start(tmp_path: Path,
                                                        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    tokens = make_tokens(d.data_dir)
    await d.started()
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, tokens)
        await asyncio.gather(*(api.issue("A") for _ in range(150)))
    assert d.terminate() == 0
    db = d.data_dir / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    _swap_two_cells_on_a_table_leaf(db)
    d.start()
    assert d.proc is not None
    assert await wait_exit(d.proc) == 1
    text = d.log_text()
    assert f"hallctl: cannot start: {db}: integrity check failed" in text
    assert "Traceback" not in text


def _swap_two_cells_on_a_table_leaf(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    page_size = int.from_bytes(raw[16:18], "big")
    for number in range(2, len(raw) // page_size + 1):
        base = (number - 1) * page_size
        if raw[base] == 0x0D and int.from_bytes(raw[base + 3:base + 5], "big") >= 2:
            raw[base + 8:base + 10], raw[base + 10:base + 12] = (
                raw[base + 10:base + 12], raw[base + 8:base + 10])
            path.write_bytes(bytes(raw))
            return
    raise AssertionError("no table leaf page with two cells")


async def test_a_data_file_that_is_not_a_database_gives_a_clear_message(
        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    d.data_dir.mkdir(parents=True)
    (d.data_dir / DB_NAME).write_bytes(b"not a database\n" * 300)
    d.start()
    assert d.proc is not None
    assert await wait_exit(d.proc) == 1
    text = d.log_text()
    assert "Traceback" not in text
    assert "hallctl: cannot start: " in text and str(d.data_dir / DB_NAME) in text


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:99999", "127.0.0.1:x", ":0"])
async def test_a_bad_listen_address_is_a_usage_error(tmp_path: Path, listen: str) -> None:
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "controller", "run", "--data-dir", str(tmp_path / "data"),
             "--listen", listen],
            cwd=REPO, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed it
        pytest.fail(f"`hallctl run --listen {listen}` still running after 5 s: {exc.stderr!r}")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "--listen" in result.stderr
