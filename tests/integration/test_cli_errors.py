"""`hallctl` given bad arguments or a bad environment: ONE line on stderr saying what, which
file or option, and why; exit 2 for bad usage or configuration, 1 for the environment or
a runtime failure; never a traceback.

Every command runs as a real subprocess (`python -m controller ...`), as a shell sees it.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.store.eventlog import DB_NAME
from controller.store.schema import SCHEMA_VERSION, migrate
from tests.conftest import REPO, demo_hall_with_devices, free_port

pytestmark = pytest.mark.timeout(120)

SAMPLE_DAY = REPO / "config" / "sample-day.csv"


def hallctl(*args: str | Path, timeout: float = 60.0,
            preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, preexec_fn=preexec, check=False)


def one_line(proc: subprocess.CompletedProcess[str], code: int, *says: str) -> str:
    """The command failed with `code` and said so in exactly one line with `says` in it."""
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err, err
    assert err.startswith("hallctl: ") and err.endswith("\n") and err.count("\n") == 1, err
    for word in says:
        assert word in err, (word, err)
    return err


def make_hall_db(data_dir: Path) -> None:
    """A real hall database (with a token), made as an installer makes one."""
    proc = hallctl("token", "create", "--role", "admin", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr


def corrupt_db(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / DB_NAME).write_bytes(b"not a database, a page of junk " * 200)


def future_db(data_dir: Path) -> None:
    make_hall_db(data_dir)
    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 7}")
    conn.close()


# ---- 1. token list / revoke / create, identities count / erase, on a bad database ----------

READERS = [("token", "list"), ("token", "revoke", "abc123"), ("identities", "count"),
           ("identities", "erase")]
ALL_DB_COMMANDS = [*READERS, ("token", "create", "--role", "kiosk")]


@pytest.mark.parametrize("command", READERS, ids=" ".join)
@pytest.mark.parametrize("where", ["missing", "a file", "empty", "db is a directory"])
def test_no_hall_database_there_is_one_line_and_nothing_created(
        tmp_path: Path, command: tuple[str, ...], where: str) -> None:
    data_dir = tmp_path / "data"
    if where == "a file":
        data_dir.write_text("x")
    elif where == "empty":
        data_dir.mkdir()
    elif where == "db is a directory":
        (data_dir / DB_NAME).mkdir(parents=True)
    proc = hallctl(*command, "--data-dir", data_dir)
    one_line(proc, 1, str(data_dir / DB_NAME))
    if where == "empty":
        assert "no hall database" in proc.stderr
        assert list(data_dir.iterdir()) == []  # not silently created


@pytest.mark.parametrize("command", ALL_DB_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("make", "says"), [(corrupt_db, "file is not a database"),
                                            (future_db, "newer than this program's")],
                         ids=["corrupt", "future"])
def test_a_bad_database_is_one_line(tmp_path: Path, command: tuple[str, ...],
                                    make: Callable[[Path], None], says: str) -> None:
    data_dir = tmp_path / "data"
    make(data_dir)
    one_line(hallctl(*command, "--data-dir", data_dir), 1, str(data_dir / DB_NAME), says)


def test_token_create_with_a_file_for_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.write_text("x")
    one_line(hallctl("token", "create", "--role", "kiosk", "--data-dir", data_dir), 1,
             str(data_dir), "not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files anyway")
@pytest.mark.parametrize("command", ALL_DB_COMMANDS, ids=" ".join)
def test_a_read_only_data_dir_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    data_dir = tmp_path / "data"
    make_hall_db(data_dir)
    (data_dir / DB_NAME).chmod(0o400)
    data_dir.chmod(0o500)
    try:
        proc = hallctl(*command, "--data-dir", data_dir)
    finally:
        data_dir.chmod(0o700)
    one_line(proc, 1, str(data_dir / DB_NAME))


# ---- 2. run: a key file that is not a key, an empty --data-dir -----------------------------

@pytest.mark.parametrize("name", ["identity.key"])
def test_run_with_a_key_file_of_the_wrong_size(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"short")
    proc = hallctl("run", "--data-dir", tmp_path, "--listen", f"127.0.0.1:{free_port()}",
                   "--no-devices")
    one_line(proc, 1, str(tmp_path / name), "5 bytes")


@pytest.mark.parametrize("command", [("run",), ("token", "list"), ("token", "create", "--role",
                                     "kiosk"), ("identities", "count"), ("simulate",)],
                         ids=" ".join)
def test_an_empty_data_dir_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    proc = subprocess.run([sys.executable, "-m", "controller", *command, "--data-dir", ""],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    one_line(proc, 2, "--data-dir", "empty")
    assert list(tmp_path.iterdir()) == []  # nothing made in the working directory


# ---- 3. replay: a bad --history, bad arrivals, bad --set -----------------------------------

def test_replay_history_that_is_not_a_hall_log(tmp_path: Path) -> None:
    corrupt_db(tmp_path / "corrupt")
    one_line(hallctl("replay", "--arrivals", SAMPLE_DAY, "--quiet", "--history",
                     tmp_path / "corrupt"), 2, "corrupt", DB_NAME, "file is not a database")
    other = tmp_path / "other"
    other.mkdir()
    conn = sqlite3.connect(other / DB_NAME)
    conn.execute("CREATE TABLE something_else (x)")
    conn.close()
    one_line(hallctl("replay", "--arrivals", SAMPLE_DAY, "--quiet", "--history", other), 2,
             str(other / DB_NAME), "no such table: events")
    one_line(hallctl("replay", "--arrivals", SAMPLE_DAY, "--quiet", "--history", ""), 2,
             "--history", "empty")


def test_replay_arrivals_that_are_not_a_csv(tmp_path: Path) -> None:
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    one_line(hallctl("replay", "--arrivals", binary, "--quiet"), 2, str(binary), "UTF-8")
    huge = tmp_path / "huge.csv"
    huge.write_text("time,category,priority\n08:00,A,\n08:01," + "A" * 140_000 + ",\n",
                    encoding="utf-8")
    one_line(hallctl("replay", "--arrivals", huge, "--quiet"), 2, f"{huge}:3", "field limit")


@pytest.mark.parametrize(("setting", "says"), [
    ("windows=5-1", "backwards"),
    ("dispatch=ratio,ratio", "names a rule twice"),
])
def test_replay_settings_the_hall_file_would_refuse(setting: str, says: str) -> None:
    one_line(hallctl("replay", "--arrivals", SAMPLE_DAY, "--quiet", "--set", setting), 2,
             setting.partition("=")[0], says)


# ---- 4. export flow: the --output, far dates, a reader that goes away ----------------------

@pytest.fixture(scope="module")
def hall_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("hall") / "data"
    make_hall_db(data_dir)
    return data_dir


@pytest.mark.parametrize(("output", "says"), [
    ("missing/flow.csv", "No such file or directory"),
    (".", "Is a directory"),
    ("/dev/full", "No space left on device"),
])
def test_export_to_an_output_that_cannot_be_written(tmp_path: Path, hall_data: Path,
                                                     output: str, says: str) -> None:
    target = tmp_path / output
    proc = hallctl("export", "flow", "--from", "2025-03-03", "--to", "2025-03-04",
                   "--data-dir", hall_data, "--output", target)
    one_line(proc, 1, "--output", str(target), says)


def test_export_up_to_the_last_day_there_is(tmp_path: Path, hall_data: Path) -> None:
    proc = hallctl("export", "flow", "--from", "9999-12-30", "--to", "9999-12-31",
                   "--data-dir", hall_data, "--output", tmp_path / "far.csv")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_export_into_a_reader_that_goes_away_stops_quietly(hall_data: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "export", "flow", "--from", "2025-01-01",
         "--to", "2025-12-31", "--data-dir", str(hall_data)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("date,start,end")  # as `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert err == ""


# ---- 5. simulate: a port taken, a data dir that is a file ----------------------------------

def _hall_with_one_printer(tmp: Path, port: int) -> Path:
    return demo_hall_with_devices(tmp, f'''
[[devices]]
id = "printer"
profile = "escpos-80mm-tcp"
host = "127.0.0.1:{port}"
''')


def test_simulate_with_a_device_port_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hall = _hall_with_one_printer(tmp_path, port)
        proc = hallctl("simulate", "--config", hall, "--data-dir", tmp_path / "data")
    one_line(proc, 1, "cannot simulate", str(port), "in use")


def test_simulate_with_a_file_for_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.write_text("x")
    one_line(hallctl("simulate", "--data-dir", data_dir), 1, str(data_dir),
             "Not a directory")


# ---- 6. cloud-sim --listen -----------------------------------------------------------------

@pytest.mark.parametrize("listen", ["nope", "127.0.0.1:99999", "127.0.0.1:"])
def test_cloud_sim_listen_that_is_not_an_address(listen: str) -> None:
    one_line(hallctl("cloud-sim", "--listen", listen), 2, "--listen", repr(listen))


# ---- 7, 8. sync and devices --url ----------------------------------------------------------

@pytest.mark.parametrize("command", [("sync", "--token", "x"), ("devices",)], ids=" ".join)
@pytest.mark.parametrize("url", ["foo", "ftp://127.0.0.1:21", "http://127.0.0.1:99999"])
def test_a_url_that_is_not_one(command: tuple[str, ...], url: str) -> None:
    one_line(hallctl(*command, "--url", url), 2, "--url", repr(url))


@contextlib.contextmanager
def answering(body: bytes) -> Iterator[str]:
    """An HTTP server answering every GET with `body` (JSON), in a thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("body", [b"{}", b"[]", b'{"devices": 3}', b'{"devices": [{"id": 1}]}',
                                  b'{"devices": [{"id": "a", "kind": "x", "status": "online",'
                                  b' "last_seen": 1e30}]}'])
@pytest.mark.parametrize("raw", [False, True], ids=["table", "json"])
def test_devices_from_a_server_that_is_not_a_hall(body: bytes, raw: bool) -> None:
    with answering(body) as url:
        proc = hallctl("devices", "--url", url, *(["--json"] if raw else []))
    one_line(proc, 1, f"{url}/api/devices", "not a hall controller's answer")


# ---- 9. a full disk at `run` and `token create` --------------------------------------------

def _file_size_limit(limit: int) -> Callable[[], None]:
    """In the child: no file grows past `limit` bytes (EFBIG, SIGXFSZ ignored), as a disk
    that fills up while SQLite writes its log and migrates."""
    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_files


@pytest.mark.parametrize("limit", [2000, 40_000])
@pytest.mark.parametrize("command", ["run", "token create"])
def test_a_full_disk_says_so_not_that_the_database_is_bad(tmp_path: Path, limit: int,
                                                          command: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    args = (("run", "--no-devices", "--listen", f"127.0.0.1:{free_port()}")
            if command == "run" else ("token", "create", "--role", "kiosk"))
    proc = hallctl(*args, "--data-dir", data_dir, preexec=_file_size_limit(limit))
    err = one_line(proc, 1, str(data_dir / DB_NAME))
    assert "disk I/O error" in err or "disk is full" in err
    assert "cannot rollback" not in err and "not a usable" not in err


class _RolledBackForUs:
    """A connection on which the migration's write fails the way a full disk does: SQLite
    has already rolled the transaction back when the error reaches the caller."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("PRAGMA user_version="):
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)


def test_migrate_reports_the_error_not_a_failed_rollback(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            migrate(_RolledBackForUs(conn))  # type: ignore[arg-type]
        assert not conn.in_transaction
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        assert migrate(conn) == 0  # and it migrates once there is room
    finally:
        conn.close()
