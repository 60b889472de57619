"""The single writer: group commit, idempotent replay, and what a failed commit leaves behind.

These run the real `Writer` against a real `EventLog` in a temporary directory. Group sizes
are made deterministic by queueing the commands *before* the writer task starts: the
writer then takes everything queued (up to MAX_GROUP) into one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from controller.config import HallConfig
from controller.core import commands as c
from controller.core.engine import Outcome
from controller.core.state import HallState
from controller.store.eventlog import (
    DB_NAME,
    Envelope,
    EventLog,
    IdempotencyRow,
    StoreError,
    StoreFull,
)
from controller.store.writer import (
    MAX_GROUP,
    IdempotencyKey,
    IdempotencyMismatch,
    Reply,
    Writer,
    rebuild,
)

pytestmark = pytest.mark.timeout(60)


def render_ticket(ticket_id: str) -> Callable[[HallState, Outcome], Reply]:
    """Like the API's renderer: 201 with the ticket, or the refusal."""

    def render(state: HallState, outcome: Outcome) -> Reply:
        if outcome.refusal is not None:
            return outcome.refusal.status, {"error": outcome.refusal.code}
        t = state.tickets[ticket_id]
        return 201, {"id": t.id, "number": t.number, "status": t.status.value}

    return render


def render_window(state: HallState, outcome: Outcome) -> Reply:
    if outcome.refusal is not None:
        return outcome.refusal.status, {"error": outcome.refusal.code}
    return 200, {"events": [e.type for e in outcome.events]}


def issue(writer: Writer, ticket_id: str, category: str = "A",
          idem: IdempotencyKey | None = None) -> Awaitable[Reply]:
    return writer.submit(c.IssueTicket(ticket_id, category, "kiosk"), render_ticket(ticket_id),
                         "kiosk-token", idem)


def stored_seqs(data_dir: Path) -> list[int]:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        conn.close()


def stored_issued_numbers(data_dir: Path) -> list[str]:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        rows = conn.execute(
            "SELECT json_extract(data, '$.number') FROM events WHERE type = 'ticket.issued' "
            "ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


class FailingLog(EventLog):
    """An event log whose next `fail_next` appends raise StoreError, as a full disk would."""

    fail_next: int = 0
    attempts: int = 0

    async def append(self, events: Sequence[Envelope], answers: Sequence[IdempotencyRow]) -> None:
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise StoreError("event log write failed: disk I/O error (simulated)")
        await super().append(events, answers)


class GatedLog(EventLog):
    """An event log whose appends wait for `gate`: a commit held on disk for as long as needed."""

    gate: asyncio.Event
    entered: asyncio.Event

    async def append(self, events: Sequence[Envelope], answers: Sequence[IdempotencyRow]) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().append(events, answers)


async def open_log(data_dir: Path, cls: type[EventLog] = EventLog) -> EventLog:
    data_dir.mkdir(parents=True, exist_ok=True)
    base = await EventLog.open(data_dir)
    if cls is EventLog:
        return base
    # Same connections, subclass behaviour: reuse what open() set up.
    return cls(base.path, base._writer, base._reader)


class Running:
    """A writer and its task, stopped and closed at the end of the test."""

    def __init__(self, writer: Writer, log: EventLog) -> None:
        self.writer = writer
        self.log = log
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.writer.run())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.log.close()


@pytest.fixture
async def make_writer(tmp_path: Path, demo_cfg: HallConfig
                      ) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    made: list[Running] = []

    async def make(cls: type[EventLog] = EventLog, start: bool = True,
                   data_dir: Path | None = None) -> Running:
        log = await open_log(data_dir or tmp_path / "data", cls)
        writer = Writer(demo_cfg, log, await rebuild(log))
        await writer.load_answers()
        r = Running(writer, log)
        made.append(r)
        if start:
            r.start()
        return r

    yield make
    for r in made:
        await r.close()


async def queue_then_start(r: Running, coros: list[Awaitable[Reply]],
                           queued: int | None = None) -> list[Reply | BaseException]:
    """Queue every command, check they are all waiting (or `queued` of them, when some
    wait on another's answer instead), then let the writer run."""
    tasks = [asyncio.ensure_future(co) for co in coros]
    await asyncio.sleep(0)  # one turn: every submit puts its job and waits on its future
    assert r.writer.queue.qsize() == (len(coros) if queued is None else queued)
    r.start()
    return await asyncio.gather(*tasks, return_exceptions=True)


# ---- group commit -----------------------------------------------------------------------

async def test_queued_commands_go_into_one_commit(make_writer: Callable[..., Awaitable[Running]],
                                                  tmp_path: Path) -> None:
    r = await make_writer(start=False)
    replies = await queue_then_start(r, [issue(r.writer, f"t{i}") for i in range(100)])
    assert r.writer.commits == 1
    assert replies == [(201, {"id": f"t{i}", "number": f"A{i + 1:03d}", "status": "waiting"})
                       for i in range(100)]
    assert stored_seqs(tmp_path / "data") == list(range(1, 101))
    assert r.writer.state.last_seq == 100


async def test_a_group_is_capped_at_max_group(make_writer: Callable[..., Awaitable[Running]],
                                             tmp_path: Path) -> None:
    r = await make_writer(start=False)
    n = MAX_GROUP + 10
    # Categories A (quota 300), B (400) and H (500) share the load under their quotas.
    cats = ["A", "B", "H"]
    replies = await queue_then_start(
        r, [issue(r.writer, f"t{i}", cats[i % 3]) for i in range(n)])
    assert all(isinstance(x, tuple) and x[0] == 201 for x in replies)
    assert r.writer.commits == 2
    assert stored_seqs(tmp_path / "data") == list(range(1, n + 1))


async def test_concurrent_submits_share_commits_and_numbers_stay_unique(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    """With the writer already running, bursts of submits still ride on shared commits."""
    r = await make_writer()
    replies: list[Reply] = []
    for burst in range(5):
        replies += await asyncio.gather(
            *(issue(r.writer, f"b{burst}-{i}") for i in range(40)))
    numbers = [body["number"] for _, body in replies]
    assert sorted(numbers) == [f"A{i:03d}" for i in range(1, 201)]
    assert 5 <= r.writer.commits < 200
    assert stored_seqs(tmp_path / "data") == list(range(1, 201))
    assert stored_issued_numbers(tmp_path / "data") == [f"A{i:03d}" for i in range(1, 201)]


async def test_nobody_is_answered_before_the_commit(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer(GatedLog, start=False)
    log = r.log
    assert isinstance(log, GatedLog)
    log.gate, log.entered = asyncio.Event(), asyncio.Event()
    r.start()
    pending = [asyncio.ensure_future(issue(r.writer, f"t{i}")) for i in range(3)]
    await asyncio.wait_for(log.entered.wait(), 5)
    assert not any(p.done() for p in pending)
    assert stored_seqs(tmp_path / "data") == []
    log.gate.set()
    replies = await asyncio.wait_for(asyncio.gather(*pending), 5)
    assert [b["number"] for _, b in replies] == ["A001", "A002", "A003"]
    assert stored_seqs(tmp_path / "data") == [1, 2, 3]


async def test_refusals_are_answered_and_write_nothing(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer()
    status, body = await r.writer.submit(c.CallNext(1), render_window)
    assert (status, body) == (409, {"error": "window_closed"})
    status, body = await issue(r.writer, "x", category="Z")
    assert (status, body) == (400, {"error": "unknown_category"})
    assert r.writer.commits == 0
    assert stored_seqs(tmp_path / "data") == []


# ---- pipelining: the next group is decided while the earlier one is on disk -------------

class HeldLog(EventLog):
    """Each append waits for a gate of its own (`gates[i]` for the i-th), and fails with
    StoreError when its index is in `fail_at`: one commit held, or lost, at a time."""

    gates: list[asyncio.Event]
    entered: list[asyncio.Event]
    fail_at: frozenset[int] = frozenset()
    fail_with: type[StoreError] = StoreError
    calls: int = 0

    async def append(self, events: Sequence[Envelope], answers: Sequence[IdempotencyRow]) -> None:
        i = self.calls
        self.calls += 1
        self.entered[i].set()
        await self.gates[i].wait()
        if i in self.fail_at:
            raise self.fail_with("event log write failed (simulated)")
        await super().append(events, answers)


async def held_writer(make_writer: Callable[..., Awaitable[Running]], n: int = 4,
                      fail_at: frozenset[int] = frozenset()) -> tuple[Running, HeldLog]:
    r = await make_writer(HeldLog, start=False)
    log = r.log
    assert isinstance(log, HeldLog)
    log.gates = [asyncio.Event() for _ in range(n)]
    log.entered = [asyncio.Event() for _ in range(n)]
    log.fail_at = fail_at
    r.start()
    return r, log


async def settle() -> None:
    for _ in range(20):  # every ready callback and task step runs
        await asyncio.sleep(0)


async def test_the_next_group_is_decided_while_the_earlier_commit_is_on_disk(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r, log = await held_writer(make_writer)
    w = r.writer
    first = asyncio.ensure_future(issue(w, "t1"))
    await asyncio.wait_for(log.entered[0].wait(), 5)  # t1's commit is on disk, held
    second = [asyncio.ensure_future(issue(w, f"t{i}")) for i in (2, 3)]
    await settle()
    # Decided already (numbered after t1) but written only once t1's commit returns.
    assert w.state.tickets["t2"].number == "A002" and w.state.tickets["t3"].number == "A003"
    assert not log.entered[1].is_set()
    assert w.unanswered == 3 and w.queue.qsize() == 0
    assert not first.done() and not any(f.done() for f in second)
    assert w.state.last_seq == 0  # what is committed, not what is decided
    log.gates[0].set()
    assert (await asyncio.wait_for(first, 5))[1]["number"] == "A001"
    await asyncio.wait_for(log.entered[1].wait(), 5)
    await settle()
    assert not any(f.done() for f in second)  # answered after their own commit only
    assert w.state.last_seq == 1 and stored_seqs(tmp_path / "data") == [1]
    log.gates[1].set()
    replies = await asyncio.wait_for(asyncio.gather(*second), 5)
    assert [b["number"] for _, b in replies] == ["A002", "A003"]
    assert stored_seqs(tmp_path / "data") == [1, 2, 3] and w.state.last_seq == 3
    assert w.commits == 2 and w.unanswered == 0


async def test_a_failed_commit_fails_the_group_decided_on_top_of_it(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r, log = await held_writer(make_writer, fail_at=frozenset({1}))
    w = r.writer
    for gate in (log.gates[0], log.gates[2], log.gates[3]):
        gate.set()
    assert (await issue(w, "ok"))[1]["number"] == "A001"
    lost = asyncio.ensure_future(issue(w, "lost"))
    await asyncio.wait_for(log.entered[1].wait(), 5)
    on_top = [asyncio.ensure_future(issue(w, "on-top")),
              asyncio.ensure_future(w.submit(c.OpenWindow(1), render_window))]
    await settle()
    assert w.state.tickets["on-top"].number == "A003"  # decided on top of "lost"
    log.gates[1].set()  # ...whose commit now fails
    replies = await asyncio.wait_for(
        asyncio.gather(lost, *on_top, return_exceptions=True), 5)
    assert [type(x) for x in replies] == [StoreError] * 3
    assert "earlier commit failed" in str(replies[1])
    # Neither group is in the projection, which is the log's again; nothing was written.
    assert set(w.state.tickets) == {"ok"} and w.state.window(1).status.value == "closed"
    assert w.state.issued_today == {"A": 1} and w.unanswered == 0
    assert log.calls == 2  # the group on top never went to disk
    # The writer goes on, numbering after what is on disk: no gap, no number lost twice.
    assert (await issue(w, "next"))[1]["number"] == "A002"
    assert stored_seqs(tmp_path / "data") == [1, 2]
    assert stored_issued_numbers(tmp_path / "data") == ["A001", "A002"]


async def test_a_full_disk_is_a_full_disk_for_the_group_on_top_too(
        make_writer: Callable[..., Awaitable[Running]]) -> None:
    """Its callers get StoreFull (507, "the disk is full") as the first group's do, not a
    vaguer 503."""
    r, log = await held_writer(make_writer, fail_at=frozenset({0}))
    log.fail_with = StoreFull
    first = asyncio.ensure_future(issue(r.writer, "t1"))
    await asyncio.wait_for(log.entered[0].wait(), 5)
    on_top = asyncio.ensure_future(issue(r.writer, "t2"))
    await settle()
    log.gates[0].set()
    replies = await asyncio.wait_for(asyncio.gather(first, on_top, return_exceptions=True), 5)
    assert [type(x) for x in replies] == [StoreFull, StoreFull]


async def test_an_answer_with_nothing_to_write_waits_for_the_earlier_commit(
        make_writer: Callable[..., Awaitable[Running]]) -> None:
    """A refusal is decided on a projection that holds the commit on disk: it is given
    only once that commit is, so no answer rests on a decision that may yet be lost."""
    r, log = await held_writer(make_writer)
    w = r.writer
    first = asyncio.ensure_future(issue(w, "t1"))
    await asyncio.wait_for(log.entered[0].wait(), 5)
    refused = asyncio.ensure_future(w.submit(c.CallNext(1), render_window))
    await settle()
    assert not refused.done()
    log.gates[0].set()
    assert await asyncio.wait_for(refused, 5) == (409, {"error": "window_closed"})
    assert first.done() and log.calls == 1


async def test_drain_waits_for_the_decided_group_too(
        make_writer: Callable[..., Awaitable[Running]]) -> None:
    r, log = await held_writer(make_writer)
    w = r.writer
    pending = [asyncio.ensure_future(issue(w, "t1"))]
    await asyncio.wait_for(log.entered[0].wait(), 5)
    pending += [asyncio.ensure_future(issue(w, f"t{i}")) for i in (2, 3)]
    await settle()
    drained = asyncio.ensure_future(w.drain())
    await settle()
    assert not drained.done()
    for gate in log.gates:
        gate.set()
    await asyncio.wait_for(drained, 5)
    assert all(p.done() and p.result()[0] == 201 for p in pending)


async def test_a_stopped_writer_answers_what_it_held_and_its_successor_rebuilds(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    """Cancelled with one group on disk and one decided (a shutdown that did not drain):
    every caller gets an answer, and a restarted writer forgets the uncommitted decisions."""
    r, log = await held_writer(make_writer)
    w = r.writer
    held = asyncio.ensure_future(issue(w, "t1"))
    await asyncio.wait_for(log.entered[0].wait(), 5)
    decided = asyncio.ensure_future(issue(w, "t2"))
    await settle()
    assert "t2" in w.state.tickets
    assert r.task is not None
    r.task.cancel()
    replies = await asyncio.wait_for(asyncio.gather(held, decided, return_exceptions=True), 5)
    assert [type(x) for x in replies] == [StoreError, StoreError]
    assert w.unanswered == 0
    for gate in log.gates:
        gate.set()
    r.start()  # as the supervisor would
    assert (await asyncio.wait_for(issue(w, "t3"), 5))[1]["number"] == "A001"
    assert "t2" not in w.state.tickets and "t1" not in w.state.tickets
    assert stored_issued_numbers(tmp_path / "data") == ["A001"]


# ---- idempotency ------------------------------------------------------------------------

KEY = IdempotencyKey("kiosk-token", "retry-1", "fp-1")


async def test_a_repeated_key_returns_the_first_answer_and_changes_nothing(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer()
    first = await issue(r.writer, "t1", idem=KEY)
    commits, seq = r.writer.commits, r.writer.state.last_seq
    again = await issue(r.writer, "t2", idem=KEY)  # a retry: the API makes a new ticket id
    assert again == first == (201, {"id": "t1", "number": "A001", "status": "waiting"})
    assert (r.writer.commits, r.writer.state.last_seq) == (commits, seq)
    assert "t2" not in r.writer.state.tickets
    with pytest.raises(IdempotencyMismatch):
        await issue(r.writer, "t3", idem=IdempotencyKey("kiosk-token", "retry-1", "other"))
    # The key is per principal: another token may use the same key for its own request.
    other = await issue(r.writer, "t4", idem=IdempotencyKey("other-token", "retry-1", "fp-1"))
    assert other == (201, {"id": "t4", "number": "A002", "status": "waiting"})


async def test_the_same_key_twice_in_one_group_is_decided_once(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer(start=False)
    # The retry does not take a place of its own: it waits for the first one's answer.
    replies = await queue_then_start(r, [issue(r.writer, "t1", idem=KEY),
                                         issue(r.writer, "t2", idem=KEY),
                                         issue(r.writer, "t3")], queued=2)
    assert replies == [(201, {"id": "t1", "number": "A001", "status": "waiting"}),
                       (201, {"id": "t1", "number": "A001", "status": "waiting"}),
                       (201, {"id": "t3", "number": "A002", "status": "waiting"})]
    assert stored_issued_numbers(tmp_path / "data") == ["A001", "A002"]


async def test_a_key_sqlite_cannot_store_fails_its_own_command_only(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    """An undecodable header byte becomes a lone surrogate: storing it would fail the
    whole group's commit, and every other caller in the group would get a 503."""
    r = await make_writer(start=False)
    bad = IdempotencyKey("kiosk-token", "bad-\udce9", "fp")
    replies = await queue_then_start(r, [issue(r.writer, "t1"), issue(r.writer, "t2", idem=bad),
                                         issue(r.writer, "t3", idem=KEY)])
    assert replies[0] == (201, {"id": "t1", "number": "A001", "status": "waiting"})
    assert isinstance(replies[1], ValueError)
    assert replies[2] == (201, {"id": "t3", "number": "A002", "status": "waiting"})
    assert stored_issued_numbers(tmp_path / "data") == ["A001", "A002"]
    assert "t2" not in r.writer.state.tickets


async def test_answers_survive_a_restart(make_writer: Callable[..., Awaitable[Running]],
                                         tmp_path: Path) -> None:
    r = await make_writer()
    first = await issue(r.writer, "t1", idem=KEY)
    await r.close()
    r2 = await make_writer()
    assert await issue(r2.writer, "t2", idem=KEY) == first
    assert r2.writer.commits == 0
    assert stored_issued_numbers(tmp_path / "data") == ["A001"]


async def test_a_retry_during_the_first_commit_is_not_executed_twice(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer(GatedLog, start=False)
    log = r.log
    assert isinstance(log, GatedLog)
    log.gate, log.entered = asyncio.Event(), asyncio.Event()
    r.start()
    first = asyncio.ensure_future(issue(r.writer, "t1", idem=KEY))
    await asyncio.wait_for(log.entered.wait(), 5)  # the first request's commit is on disk
    retry = asyncio.ensure_future(issue(r.writer, "t2", idem=KEY))  # the kiosk retries
    mismatch = asyncio.ensure_future(
        issue(r.writer, "t3", idem=IdempotencyKey("kiosk-token", "retry-1", "other")))
    await asyncio.sleep(0)
    assert r.writer.queue.qsize() == 0  # neither takes a place in the queue
    assert isinstance(mismatch.exception(), IdempotencyMismatch)
    log.gate.set()
    a, b = await asyncio.wait_for(asyncio.gather(first, retry), 5)
    assert b == a
    assert stored_issued_numbers(tmp_path / "data") == ["A001"]


# ---- a failing commit -------------------------------------------------------------------

async def test_a_failed_commit_answers_the_whole_group_with_store_error(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    r = await make_writer(FailingLog, start=False)
    w = r.writer
    log = r.log
    assert isinstance(log, FailingLog)
    # Committed before the failure: window 1 open serving A001, A002 waiting.
    r.start()
    assert (await issue(w, "ok1"))[0] == 201
    assert (await issue(w, "ok2"))[0] == 201
    assert (await w.submit(c.OpenWindow(1), render_window))[0] == 200
    assert (await w.submit(c.CallNext(1), render_window))[0] == 200
    before_commits = w.commits
    assert w.state.window(1).current == "ok1"
    await r.close()

    r = await make_writer(FailingLog, start=False)
    w = r.writer
    log = r.log
    assert isinstance(log, FailingLog)
    log.fail_next = 1
    doomed: list[Awaitable[Reply]] = [
        issue(w, "lost1"),
        issue(w, "lost2", idem=IdempotencyKey("kiosk-token", "k-lost", "fp")),
        w.submit(c.CallNext(1), render_window),  # completes ok1, calls ok2
        w.submit(c.PauseWindow(1, "lunch"), render_window),
    ]
    replies = await queue_then_start(r, doomed)
    assert log.attempts == 1
    assert [type(x) for x in replies] == [StoreError] * 4
    assert w.commits == 0
    assert before_commits > 0

    # Nothing of the group is visible: the projection is the log's, not the failed decisions'.
    state = w.state
    assert "lost1" not in state.tickets and "lost2" not in state.tickets
    assert state.tickets["ok1"].status.value == "called"
    assert state.tickets["ok2"].status.value == "waiting"
    assert state.window(1).current == "ok1"
    assert state.window(1).status.value == "open"
    assert state.issued_today == {"A": 2}
    assert state.last_seq == len(stored_seqs(tmp_path / "data"))
    assert ("kiosk-token", "k-lost") not in w.answers

    # The writer goes on: the next commands are decided against the rebuilt state,
    # the failed idempotency key executes afresh, and the seq stays gapless.
    again = await issue(w, "lost2b", idem=IdempotencyKey("kiosk-token", "k-lost", "fp"))
    assert again == (201, {"id": "lost2b", "number": "A003", "status": "waiting"})
    assert (await w.submit(c.CallNext(1), render_window)) == (
        200, {"events": ["ticket.completed", "ticket.called"]})
    assert w.state.tickets["ok2"].status.value == "called"
    seqs = stored_seqs(tmp_path / "data")
    assert seqs == list(range(1, len(seqs) + 1))
    assert w.state.last_seq == seqs[-1]
    assert stored_issued_numbers(tmp_path / "data") == ["A001", "A002", "A003"]


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def test_a_closed_connection_fails_the_group_and_the_writer_survives(
        make_writer: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:
    """The writer's connection gone (not a sqlite3.Error): every caller still gets an answer."""
    r = await make_writer(start=False)
    w = r.writer
    await r.log._writer.close()
    replies = await asyncio.wait_for(
        queue_then_start(r, [issue(w, "a"), issue(w, "b")]), 10)
    assert [type(x) for x in replies] == [StoreError, StoreError]
    assert all("not committed" in str(x) for x in replies)
    await wait_until(lambda: w.state.tickets == {})
    assert w.state.last_seq == 0 and w.state.issued_today == {}
    assert r.task is not None and not r.task.done()  # the writer task itself is still there
    assert stored_seqs(tmp_path / "data") == []


class BrokenLog(EventLog):
    """append fails with a non-sqlite error; once it has, reads wait for `gate`."""

    gate: asyncio.Event
    held: asyncio.Event  # set once a read is waiting at the gate
    failed: bool = False

    async def append(self, events: Sequence[Envelope], answers: Sequence[IdempotencyRow]) -> None:
        self.failed = True
        raise ValueError("no active connection")

    async def read(self, after: int = 0, limit: int = 1000) -> list[Envelope]:
        if self.failed:
            self.held.set()
            await self.gate.wait()
        return await super().read(after, limit)


async def test_no_uncommitted_decision_is_visible_once_the_group_is_answered(
        make_writer: Callable[..., Awaitable[Running]]) -> None:
    """The failed group is answered only after the state is rebuilt: while the rebuild is
    held at the gate, nobody has an answer; once it is through, the ghost is gone."""
    r = await make_writer(BrokenLog, start=False)
    log = r.log
    assert isinstance(log, BrokenLog)
    log.gate, log.held = asyncio.Event(), asyncio.Event()
    w = r.writer
    answered = asyncio.ensure_future(queue_then_start(r, [issue(w, "ghost")]))
    try:
        await asyncio.wait_for(log.held.wait(), 5)  # the rebuild has started reading
        for _ in range(20):  # let every ready callback run: still no answer
            await asyncio.sleep(0)
        assert not answered.done()
    finally:
        log.gate.set()
    replies = await asyncio.wait_for(answered, 5)
    assert [type(x) for x in replies] == [StoreError]
    assert "ghost" not in w.state.tickets


async def test_submit_after_drain_is_refused(make_writer: Callable[..., Awaitable[Running]]
                                             ) -> None:
    r = await make_writer()
    pending = [asyncio.ensure_future(issue(r.writer, f"t{i}")) for i in range(10)]
    await asyncio.sleep(0)
    await asyncio.wait_for(r.writer.drain(), 5)
    assert all(p.done() and p.result()[0] == 201 for p in pending)
    with pytest.raises(StoreError, match="shutting down"):
        await issue(r.writer, "late")
