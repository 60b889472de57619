"""`hallctl` as an installer uses it: check-config, token create, --version.

Every command runs as a real subprocess (`python -m controller ...` from the repository
root), so exit codes, stdout and stderr are what a shell would see.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

import controller
from controller.config import DEFAULT_CONFIG
from controller.store.eventlog import DB_NAME
from tests.conftest import REPO, Api, DaemonProcess, Tokens

pytestmark = pytest.mark.timeout(60)

DEMO_TEXT = DEFAULT_CONFIG.read_text(encoding="utf-8")
TOKEN_RE = re.compile(r"hc_[A-Za-z0-9_-]{43}")


def hallctl(*args: str | Path, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def edited(old: str, new: str, count: int = 1) -> str:
    """The demo hall with exactly `count` occurrences of `old` replaced (checked)."""
    assert DEMO_TEXT.count(old) >= count, f"{old!r} is not in the demo hall"
    return DEMO_TEXT.replace(old, new, count)


def token_rows(data_dir: Path) -> list[tuple[str, str, str, int | None]]:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return [(r[0], r[1], r[2], r[3]) for r in conn.execute(
            "SELECT id, hash, role, window FROM tokens ORDER BY created")]
    finally:
        conn.close()


def all_bytes(data_dir: Path) -> bytes:
    """Every file of the data directory (database, WAL, shared memory), concatenated."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())


# ---- --version ----------------------------------------------------------------------------

def test_version() -> None:
    result = hallctl("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"hallctl {controller.__version__}\n"
    assert controller.__version__ == importlib.metadata.version("hall-controller")


def test_no_command_is_a_usage_error() -> None:
    result = hallctl()
    assert result.returncode == 2
    assert "usage: hallctl" in result.stderr
    assert result.stdout == ""


# ---- check-config -------------------------------------------------------------------------

def test_check_config_accepts_the_demo_hall() -> None:
    result = hallctl("check-config", "config/demo-hall.toml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("config/demo-hall.toml: OK: hall demo-330100 (示范区政务服务中心), "
                             "9 categories, 17 windows\n")
    assert result.stderr == ""


# (name, file text, the key the message must name, a phrase of the message)
BAD_FILES: list[tuple[str, str, str, str]] = [
    ("unknown_top_level_key", "colour = 1\n" + DEMO_TEXT, "colour", "unknown key"),
    ("unknown_hall_key", edited('name = "示范区政务服务中心"\n',
                                'name = "示范区政务服务中心"\ncolour = "red"\n'),
     "hall.colour", "unknown key"),
    ("misspelt_category_key", edited("daily_quota = 300", "daly_quota = 300"),
     "categories[0].daly_quota", "unknown key"),
    ("unknown_queue_key", edited("recall_limit = 2 ", "recall_limt = 2 "),
     "queue.recall_limt", "unknown key"),
    ("quota_out_of_range", edited("daily_quota = 300", "daily_quota = 0"),
     "categories[0].daily_quota", "must be between 1 and 999"),
    ("bool_for_int", edited("daily_quota = 300", "daily_quota = true"),
     "categories[0].daily_quota", "must be an integer"),
    ("bad_clock", edited('opens = "08:30"', 'opens = "8.30"'),
     "business_day.opens", "HH:MM"),
    ("closes_before_opens", edited('closes = "17:30"', 'closes = "07:30"'),
     "business_day.closes", "later than opens"),
    ("unknown_time_zone", edited('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'),
     "business_day.timezone", "unknown time zone"),
    ("bad_recall_limit", edited("recall_limit = 2 ", "recall_limit = 11 "),
     "queue.recall_limit", "between 0 and 10"),
    ("unknown_dispatch_rule", edited('"overdue", "ratio"]', '"overdue", "lottery"]'),
     "queue.dispatch", "unknown rule"),
    ("bad_landing", edited('transfer_landing = "by_issue_time"', 'transfer_landing = "side"'),
     "categories[5].transfer_landing", "must be one of"),
    ("zero_weight", edited("categories = { A = 2, D = 1 }", "categories = { A = 0, D = 1 }"),
     "windows[0].categories.A", "weight must be an integer 1-100"),
    ("window_serves_unknown_category",
     edited("categories = { A = 2, D = 1 }", "categories = { A = 2, Z = 1 }"),
     "windows[0].categories.Z", "unknown category"),
    ("duplicate_window", edited("number = 2\n", "number = 1\n"),
     "windows[1].number", "duplicate window 1"),
    ("bad_post", edited('post = "consult"', 'post = "canteen"'),
     "windows[12].post", "must be one of"),
    ("bad_listen", edited('# listen = "127.0.0.1:8080"', 'listen = "localhost"'),
     "hall.listen", "HOST:PORT"),
    ("missing_hall", "", "hall", "is required"),
]


@pytest.mark.parametrize(("text", "key", "phrase"), [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_check_config_names_the_file_and_the_bad_key(tmp_path: Path, text: str, key: str,
                                                     phrase: str) -> None:
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    result = hallctl("check-config", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"hallctl: configuration error: {path}: {key}: ")
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(edited("[queue]\n", "[queue\n"), encoding="utf-8")
    line = DEMO_TEXT[:DEMO_TEXT.index("[queue]\n")].count("\n") + 1
    result = hallctl("check-config", path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"hallctl: configuration error: {path}: (syntax): ")
    assert f"line {line}" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "hall.toml"
    result = hallctl("check-config", path)
    assert result.returncode == 2
    assert result.stderr == f"hallctl: configuration error: {path}: (file): no such file\n"


def test_check_config_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(DEMO_TEXT.encode("gbk"))
    result = hallctl("check-config", path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"hallctl: configuration error: {path}: (file): ")
    assert "Traceback" not in result.stderr


# ---- token create -------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "window"), [("kiosk", None), ("clerk", 3), ("pad", 5),
                                              ("supervisor", None), ("admin", None)])
def test_token_create_prints_the_token_last_and_stores_only_its_digest(
        tmp_path: Path, role: str, window: int | None) -> None:
    data_dir = tmp_path / "data"
    extra = ["--window", str(window)] if window is not None else []
    result = hallctl("token", "create", "--role", role, *extra, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    token = lines[-1]
    assert TOKEN_RE.fullmatch(token), token
    assert token not in "\n".join(lines[:-1])  # shown once
    ((token_id, stored_hash, stored_role, stored_window),) = token_rows(data_dir)
    assert token_id in lines[0]
    assert (stored_role, stored_window) == (role, window)
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()
    blob = all_bytes(data_dir)
    assert stored_hash.encode() in blob  # the right files were searched...
    assert token.encode() not in blob  # ...and the token is not in them
    assert token[3:].encode() not in blob


def test_two_tokens_differ(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = hallctl("token", "create", "--role", "kiosk", "--data-dir", data_dir)
    second = hallctl("token", "create", "--role", "kiosk", "--data-dir", data_dir)
    assert first.returncode == second.returncode == 0
    assert first.stdout.splitlines()[-1] != second.stdout.splitlines()[-1]
    assert len(token_rows(data_dir)) == 2


@pytest.mark.parametrize(("args", "phrase"), [
    (["--role", "clerk"], "give --window N"),
    (["--role", "pad"], "give --window N"),
    (["--role", "clerk", "--window", "99"], "no window 99 in this hall"),
    (["--role", "kiosk", "--window", "3"], "--window is only for clerk"),
    (["--role", "janitor"], "invalid choice: 'janitor'"),
    (["--role", "clerk", "--window", "three"], "invalid int value: 'three'"),
], ids=["clerk_without_window", "pad_without_window", "unknown_window", "window_for_kiosk",
        "bad_role", "window_not_a_number"])
def test_token_create_refusals_store_nothing(tmp_path: Path, args: list[str],
                                             phrase: str) -> None:
    data_dir = tmp_path / "data"
    result = hallctl("token", "create", *args, "--data-dir", data_dir)
    assert result.returncode == 2
    assert phrase in result.stderr
    assert result.stdout == ""
    assert not (data_dir / DB_NAME).exists()


def test_token_create_checks_windows_against_the_given_config(tmp_path: Path) -> None:
    small = tmp_path / "small.toml"
    # Window 16 exists in the demo hall; this hall is the same without it.
    start = DEMO_TEXT.index("[[windows]]\nnumber = 16")
    end = DEMO_TEXT.index("\n[[", start)
    small.write_text(DEMO_TEXT[:start] + DEMO_TEXT[end + 1:], encoding="utf-8")
    data_dir = tmp_path / "data"
    ok = hallctl("token", "create", "--role", "clerk", "--window", "16", "--data-dir", data_dir)
    assert ok.returncode == 0, ok.stderr
    refused = hallctl("token", "create", "--role", "clerk", "--window", "16",
                      "--config", small, "--data-dir", data_dir)
    assert refused.returncode == 2
    assert "no window 16 in this hall" in refused.stderr
    assert len(token_rows(data_dir)) == 1


def test_token_create_with_a_bad_config_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(edited("daily_quota = 300", "daly_quota = 300"), encoding="utf-8")
    result = hallctl("token", "create", "--role", "kiosk", "--config", bad,
                     "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert f"{bad}: categories[0].daly_quota: unknown key" in result.stderr


async def test_tokens_made_while_the_daemon_runs_work_at_once(
        daemon_process: DaemonProcess) -> None:
    d = daemon_process
    await d.started()

    def create(*args: str) -> str:
        result = hallctl("token", "create", *args, "--data-dir", d.data_dir)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    kiosk = create("--role", "kiosk")
    clerk3 = create("--role", "clerk", "--window", "3")
    supervisor = create("--role", "supervisor")
    async with aiohttp.ClientSession() as session:
        api = Api(d.base, session, Tokens(kiosk, supervisor, supervisor, {3: clerk3}))
        status, body = await api.call("POST", "/api/tickets", kiosk, {"category": "A"})
        assert (status, body["number"]) == (201, "A001")
        assert (await api.window(3, "open", token=clerk3))[0] == 200
        status, body = await api.window(4, "open", token=clerk3)
        assert (status, body["error"]) == (403, "forbidden")
        status, body = await api.window(3, "call-next", token=clerk3)
        assert (status, body["ticket"]["number"]) == (200, "A001")
        status, body = await api.call("POST", "/api/tickets", clerk3, {"category": "A"})
        assert (status, body["error"]) == (403, "forbidden")
        status, body = await api.call("GET", "/api/events", supervisor)
        assert status == 200 and body["last_seq"] == 3
    assert d.terminate() == 0


def test_identities_count_and_erase(tmp_path: Path) -> None:
    """The operator's view of the ID numbers held for real-name reports, and the way to
    erase them all at once (a box going for repair)."""
    import asyncio

    from controller.store.eventlog import DB_NAME, EventLog
    from controller.store.sealed import SealedIdentities

    number = "330102198001011234"

    async def seal_two() -> None:
        log = await EventLog.open(tmp_path)
        await log.close()
        store = await SealedIdentities.open(tmp_path)
        await store.seal("t1", number)
        await store.seal("t2", number)
        await store.close()

    asyncio.run(seal_two())
    conn = sqlite3.connect(tmp_path / DB_NAME)
    boxes = [bytes(r[0]) for r in conn.execute("SELECT box FROM sealed_identities")]
    conn.close()
    counted = hallctl("identities", "count", "--data-dir", tmp_path)
    assert counted.returncode == 0 and counted.stdout.startswith("2 ID number(s)")
    erased = hallctl("identities", "erase", "--data-dir", tmp_path)
    assert erased.returncode == 0 and erased.stdout.startswith("erased 2"), erased
    assert hallctl("identities", "count", "--data-dir", tmp_path).stdout.startswith("0 ")
    files = b"".join(p.read_bytes() for p in tmp_path.glob(DB_NAME + "*"))
    assert number.encode() not in files
    assert len(boxes) == 2 and not any(box in files for box in boxes)  # zeroed, not freed
    missing = hallctl("identities", "count", "--data-dir", tmp_path / "nowhere")
    assert missing.returncode == 1 and "no hall database" in missing.stderr
