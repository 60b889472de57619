"""Benchmark: POST /api/tickets on the real daemon against a bare aiohttp endpoint.

Both servers run as child processes of this one (the daemon is `python -m controller run`
on a temporary data directory, the baseline is `bench/bare_endpoint.py`), on free ports of
127.0.0.1, and get the same load in the same run: an aiohttp client with N concurrent
workers (32 by default) over keep-alive HTTP/1.1, after a warm-up. Rounds alternate
baseline and daemon so that machine noise hits both alike.

Printed: requests, throughput, p50/p99 latency and CPU use per target, the throughput ratio
daemon/bare and whether the goal (>= 0.5) is met. Then the durability check: every `201`
the daemon gave (warm-up included) must be a `ticket.issued` event in its log, read over
`GET /api/events` while it runs and again from the SQLite file (read-only) after the
daemon is killed with SIGKILL, so nothing can be flushed on the way out.

The demo hall's daily quotas are far too small for this, so the bench writes its own hall
(26 categories A-Z of 999 tickets each, 26 windows) into the temporary directory, checks
it with `controller.config.load_config`, and spreads the requests across the categories.

    .venv/bin/python bench/ticket_issue.py [--requests N | --duration S] [--concurrency C]

Exit status: 0 when the run was clean and every answer is in the log (whether or not the
throughput goal is met: that is what the printout is for), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from controller.config import load_config  # noqa: E402
from controller.store.eventlog import DB_NAME  # noqa: E402
from controller.store.tokens import create_token  # noqa: E402

GOAL = 0.5
PREFIXES = string.ascii_uppercase  # 26 categories
QUOTA = 999  # the most a category can have: numbers are prefix + 3 digits
CAPACITY = len(PREFIXES) * QUOTA
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- the bench hall --------------------------------------------------------------------

def bench_hall_toml() -> str:
    """The demo hall's structure with 26 categories of 999 tickets and a window for each."""
    out = [
        "# Written by bench/ticket_issue.py: a hall big enough for a throughput run.",
        "[hall]",
        'id = "bench-000000"',
        'name = "基准测试大厅"',
        "",
        "[business_day]",
        'timezone = "Asia/Shanghai"',
        'opens = "08:30"',
        'closes = "17:30"',
        'numbering_resets = "03:00"',
        "enforce_hours = false",
        "",
        "[queue]",
        "recall_limit = 2",
        "suspend_return_min = 15",
        'dispatch = ["priority", "directed", "overdue", "ratio"]',
        "",
        "[[priority_groups]]",
        'name = "appointment"',
        'label = "预约"',
        "",
        "[[priority_groups]]",
        'name = "green"',
        'label = "绿色通道"',
    ]
    for p in PREFIXES:
        out += ["", "[[categories]]", f'prefix = "{p}"', f'name = "基准业务{p}"',
                f"daily_quota = {QUOTA}", "service_level_min = 30", "default_service_min = 8"]
    for i, p in enumerate(PREFIXES):
        nxt = PREFIXES[(i + 1) % len(PREFIXES)]
        out += ["", "[[windows]]", f"number = {i + 1}", f'name = "{i + 1}号窗口"',
                'post = "intake"', f"categories = {{ {p} = 2, {nxt} = 1 }}"]
    return "\n".join(out) + "\n"


def fsync_ms(directory: Path, n: int = 50) -> float:
    """Mean time of a 4 KiB write + fsync where the daemon's log will be: what a commit pays."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - t0) / n * 1000
    finally:
        os.close(fd)
        path.unlink()


# ---- servers as child processes --------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    log_path: Path
    token: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log, env=env, cwd=REPO)

    async def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                       + self.log_tail())
                try:
                    async with session.get(self.base + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not healthy in {timeout} s:\n"
                                       + self.log_tail())
                await asyncio.sleep(0.05)

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# ---- the load generator ----------------------------------------------------------------

@dataclass
class Phase:
    target: str
    requests: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    commits: int | None = None  # the daemon's group commits during the phase, if exposed

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000

    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != "201")

    def merge(self, other: Phase) -> None:
        self.requests += other.requests
        self.wall_s += other.wall_s
        self.server_cpu_s += other.server_cpu_s
        self.client_cpu_s += other.client_cpu_s
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        if other.commits is not None:
            self.commits = (self.commits or 0) + other.commits


class Load:
    """Concurrent POST /api/tickets against one server, categories taken in turn."""

    def __init__(self, session: aiohttp.ClientSession, server: Server, concurrency: int) -> None:
        self.session = session
        self.server = server
        self.concurrency = concurrency
        self.url = server.base + "/api/tickets"
        self.headers = {"Content-Type": "application/json"}
        if server.token:
            self.headers["Authorization"] = f"Bearer {server.token}"
        self.bodies = [json.dumps({"category": p, "channel": "kiosk"}).encode()
                       for p in PREFIXES]
        self.sent = 0  # over all phases: it picks the category and bounds the quota
        self.issued_ids: list[str] = []  # ids of every 201 answer, warm-up included

    async def run(self, requests: int | None, duration: float | None, limit: int) -> Phase:
        """`requests` of them, or as many as fit in `duration` s; never more than `limit`."""
        phase = Phase(self.server.name)
        stop_at = self.sent + min(requests if requests is not None else limit, limit)
        deadline = None if duration is None else time.perf_counter() + duration

        async def worker() -> None:
            while self.sent < stop_at and (deadline is None or time.perf_counter() < deadline):
                body = self.bodies[self.sent % len(self.bodies)]
                self.sent += 1
                t0 = time.perf_counter()
                try:
                    async with self.session.post(self.url, data=body,
                                                 headers=self.headers) as resp:
                        raw = await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    phase.statuses[type(exc).__name__] += 1
                    phase.requests += 1
                    continue
                phase.latencies.append(time.perf_counter() - t0)
                phase.requests += 1
                try:
                    answer = json.loads(raw)  # both targets: the client does the same work
                except ValueError:
                    phase.statuses[f"{status} not JSON"] += 1
                    continue
                phase.statuses[str(status)] += 1
                if status == 201:
                    self.issued_ids.append(answer["id"])

        commits0 = await self.commits()
        cpu0, client0, t0 = self.server.cpu(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        phase.wall_s = time.perf_counter() - t0
        phase.client_cpu_s = time.process_time() - client0
        phase.server_cpu_s = self.server.cpu() - cpu0
        commits1 = await self.commits()
        if commits0 is not None and commits1 is not None:
            phase.commits = commits1 - commits0
        return phase

    async def commits(self) -> int | None:
        """`hall_commits_total` from the daemon's /metrics; None where there is none."""
        if self.server.name != "daemon":
            return None
        async with self.session.get(self.server.base + "/metrics") as resp:
            if resp.status != 200:
                return None
            text = await resp.text()
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "hall_commits_total":
                return int(float(value))
        return None


# ---- verification ----------------------------------------------------------------------

async def issued_over_api(session: aiohttp.ClientSession, base: str, token: str) -> list[str]:
    ids: list[str] = []
    after = 0
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        async with session.get(f"{base}/api/events", params={"after": after, "limit": 1000},
                               headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET /api/events: {resp.status} {await resp.text()}")
            body = await resp.json()
        events = body["events"]
        if not events:
            return ids
        ids += [e["data"]["ticket_id"] for e in events if e["type"] == "ticket.issued"]
        after = events[-1]["seq"]


def issued_on_disk(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT data FROM events WHERE type = 'ticket.issued'").fetchall()
    finally:
        conn.close()
    return [json.loads(r[0])["ticket_id"] for r in rows]


def profile_summary(path: Path, tickets: int, top: int = 15) -> None:
    """The daemon's hot spots, and its group commits counted from the profile."""
    import pstats

    raw = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    print(f"daemon profile (cProfile) written to {path}")
    # Commits: on Python 3.11 the `[e.row() for e in events]` of EventLog.append is a
    # function of its own, called once per commit that holds events. (A coroutine's own
    # call count is no use: cProfile counts every resumption after an await.)
    listcomps = {caller for (file, _, fn), v in raw.items()
                 if fn == "row" and file.endswith("store/eventlog.py")
                 for caller in v[4] if caller[2] == "<listcomp>"}
    commits = sum(raw[k][1] for k in listcomps if k in raw)
    if commits:
        print(f"commits with events: {commits} for {tickets} tickets (plus ticks): "
              f"{tickets / commits:.1f} tickets per commit on average")
    idle = {k for k in raw if "poll" in k[2] and "epoll" in k[2]}
    busy = sum(v[2] for k, v in raw.items() if k not in idle)
    print(f"top {top} functions by own time, of {busy:.2f} s busy in the daemon's main "
          f"thread (the event loop's idle wait left out; cProfile inflates small calls):")
    rows = sorted(((k, v) for k, v in raw.items() if k not in idle),
                  key=lambda kv: kv[1][2], reverse=True)
    for (file, line, fn), (_, ncalls, tottime, _, _) in rows[:top]:
        where = f"  ({Path(file).parent.name}/{Path(file).name}:{line})" if line else ""
        print(f"  {tottime:7.3f} s {tottime / busy:6.1%} {ncalls:9d} calls  {fn}{where}")


# ---- the run ---------------------------------------------------------------------------

def fmt_row(cols: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths, strict=True)))


def table(phases: list[Phase]) -> str:
    head = ["target", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server CPU",
            "client CPU"]
    rows = [[p.target, str(p.requests), str(p.errors()), f"{p.rate:.0f}", f"{p.pct(0.50):.2f}",
             f"{p.pct(0.99):.2f}", f"{p.server_cpu_s / p.wall_s:.0%}",
             f"{p.client_cpu_s / p.wall_s:.0%}"] for p in phases]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [fmt_row(head, widths), fmt_row(["-" * w for w in widths], widths)]
    lines += [fmt_row(r, widths) for r in rows]
    return "\n".join(lines)


async def bench(args: argparse.Namespace, tmp: Path) -> int:
    config = tmp / "bench-hall.toml"
    config.write_text(bench_hall_toml(), encoding="utf-8")
    cfg = load_config(config)  # a ConfigError here is a bug in this file
    assert len(cfg.categories) == len(PREFIXES), cfg.categories
    data_dir = tmp / "data"
    kiosk = create_token(data_dir, "kiosk", None)[1]
    supervisor = create_token(data_dir, "supervisor", None)[1]

    daemon_cmd = [sys.executable, "-m", "controller", "run", "--config", str(config),
                  "--data-dir", str(data_dir), "--log-level", "WARNING"]
    if args.profile_daemon:
        daemon_cmd[1:1] = ["-m", "cProfile", "-o", str(args.profile_daemon.resolve())]
    dport, bport = free_port(), free_port()
    daemon = Server("daemon", [*daemon_cmd, "--listen", f"127.0.0.1:{dport}"], dport,
                    tmp / "daemon.log", kiosk)
    bare = Server("bare", [sys.executable, str(REPO / "bench" / "bare_endpoint.py"),
                           "--listen", f"127.0.0.1:{bport}"], bport, tmp / "bare.log")
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs; aiohttp {aiohttp.__version__}; "
          f"concurrency {args.concurrency}, warm-up {args.warmup}, "
          + (f"{args.duration:g} s" if args.duration else f"{args.requests} requests")
          + f" per target per round, {args.rounds} round(s); "
          f"load average {os.getloadavg()[0]:.2f}; fsync {fsync_ms(tmp):.2f} ms in {tmp}",
          flush=True)
    ok = True
    try:
        for s in (bare, daemon):
            s.start()
        await asyncio.gather(bare.wait_healthy(), daemon.wait_healthy())
        connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            loads = {"bare": Load(session, bare, args.concurrency),
                     "daemon": Load(session, daemon, args.concurrency)}
            totals = {name: Phase(name) for name in loads}
            per_round: list[float] = []
            for load in loads.values():  # connections, caches, code paths
                await load.run(args.warmup, None, args.warmup)
            for r in range(args.rounds):
                rates = {}
                for name, load in loads.items():
                    # the daemon's quota bounds it; the bare endpoint gets the same bound
                    left = CAPACITY - loads["daemon"].sent
                    phase = await load.run(args.requests, args.duration, left)
                    totals[name].merge(phase)
                    rates[name] = phase.rate
                    print(f"  round {r + 1}: {name:6s} {phase.requests:6d} requests "
                          f"{phase.rate:8.0f} req/s  p50 {phase.pct(0.5):6.2f} ms  "
                          f"p99 {phase.pct(0.99):6.2f} ms"
                          + (f"  {phase.requests / phase.commits:5.1f} tickets/commit"
                             if phase.commits else ""), flush=True)
                per_round.append(rates["daemon"] / rates["bare"] if rates["bare"] else 0.0)

            print()
            print(table(list(totals.values())))
            ratio = totals["daemon"].rate / totals["bare"].rate if totals["bare"].rate else 0.0
            print()
            print(f"load average after the load: {os.getloadavg()[0]:.2f} "
                  f"(others on the machine make the figures noisy)")
            print(f"throughput ratio daemon/bare: {ratio:.2f} "
                  f"(per round: {', '.join(f'{x:.2f}' for x in per_round)}); "
                  f"goal >= {GOAL}: {'MET' if ratio >= GOAL else 'NOT MET'}")
            bare_total = totals["bare"]
            if bare_total.wall_s and bare_total.client_cpu_s / bare_total.wall_s >= 0.85:
                print(f"note: this client used {bare_total.client_cpu_s / bare_total.wall_s:.0%} "
                      f"of a CPU against the bare endpoint, whose own CPU was "
                      f"{bare_total.server_cpu_s / bare_total.wall_s:.0%}: the baseline is "
                      f"bounded by the client, so the ratio flatters the daemon")
            for phase in totals.values():
                if phase.errors():
                    ok = False
                    print(f"{phase.target}: non-201 answers: {dict(phase.statuses)}")

            commits = totals["daemon"].commits
            if commits:
                print(f"daemon group commits (hall_commits_total from /metrics): {commits} for "
                      f"{totals['daemon'].requests} measured tickets, "
                      f"{totals['daemon'].requests / commits:.1f} tickets per commit")
            acked = loads["daemon"].issued_ids
            over_api = await issued_over_api(session, daemon.base, supervisor)
        # Killed, not stopped: what the file holds now is what was committed, not drained.
        if args.profile_daemon:
            daemon.stop(signal.SIGTERM)  # cProfile writes its stats on a normal exit
        else:
            daemon.stop(signal.SIGKILL)
        on_disk = issued_on_disk(data_dir / DB_NAME)
        same = set(acked) == set(over_api) == set(on_disk)
        counts_equal = len(acked) == len(over_api) == len(on_disk)
        print(f"committed before answered: {len(acked)} answers 201 (warm-up included), "
              f"{len(over_api)} ticket.issued events over GET /api/events, {len(on_disk)} in "
              f"the SQLite file after {'SIGTERM' if args.profile_daemon else 'SIGKILL'}; "
              f"ids {'identical' if same else 'DIFFER'}: {'OK' if same and counts_equal else 'FAIL'}")
        ok = ok and same and counts_equal
        if args.profile_daemon:
            profile_summary(args.profile_daemon, len(acked))
        elif commits is None:
            print("commits: the daemon exposes no hall_commits_total on /metrics; "
                  "--profile-daemon FILE counts them")
    finally:
        bare.stop(signal.SIGTERM)
        daemon.stop(signal.SIGKILL)
        if not ok:
            print("--- daemon log tail ---\n" + daemon.log_tail(), file=sys.stderr)
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description="POST /api/tickets: daemon vs bare aiohttp endpoint")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--requests", type=int, default=4000,
                   help="measured requests per target per round (default 4000)")
    g.add_argument("--duration", type=float, default=None,
                   help="measure for this many seconds per target per round instead")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent workers (default 32)")
    p.add_argument("--warmup", type=int, default=500,
                   help="unmeasured requests per target first (default 500)")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternating bare/daemon rounds (default 3)")
    p.add_argument("--tmpdir", type=Path, default=None, metavar="DIR",
                   help="where the temporary data directory goes (default: $TMPDIR or /tmp); "
                        "put it on the disk the hall will use, fsync cost is part of the figure")
    p.add_argument("--profile-daemon", type=Path, default=None, metavar="FILE",
                   help="run the daemon under cProfile and write its stats to FILE "
                        "(slows the daemon: for finding where time goes, not for figures)")
    args = p.parse_args()
    if args.duration is not None:
        args.requests = None
    if min(args.concurrency, args.rounds) < 1 or args.warmup < 0 or (
            args.requests is not None and args.requests < 1):
        p.error("--concurrency, --rounds and --requests must be >= 1, --warmup >= 0")
    if args.requests is not None and args.warmup + args.rounds * args.requests > CAPACITY:
        p.error(f"the bench hall issues at most {CAPACITY} tickets a day: "
                f"warm-up + rounds x requests must fit")
    with tempfile.TemporaryDirectory(prefix="bench-ticket-", dir=args.tmpdir) as tmp:
        return asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
