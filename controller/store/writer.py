"""The single writer: every command goes through here, in order, and is committed in groups.

Commands that arrive while a commit is on disk wait in the queue and go into the next
commit together (group commit): one fsync pays for many tickets. Nobody is answered
before the commit that holds their events returns. If a commit fails, the in-memory
projection may hold events that are not on disk, so it is rebuilt from the log and
every command of the failed group gets a StoreError (a 503), never a false 2xx.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.engine import Outcome, execute
from controller.core.state import HallState, apply
from controller.store.eventlog import (
    Envelope,
    EventLog,
    IdempotencyRow,
    StoreError,
    encode_data,
)
from controller.store.ids import new_id

log = structlog.get_logger("writer")

MAX_GROUP = 512
IDEMPOTENCY_TTL_S = 24 * 3600.0

# A reply is (HTTP status, JSON body). Renderers run right after their command, against
# the state it left, so the reply (and its idempotent replay) says what was decided.
Reply = tuple[int, dict[str, Any]]
Renderer = Callable[[HallState, Outcome], Reply]


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    principal: str
    key: str
    fingerprint: str


class IdempotencyMismatch(Exception):
    """The same key was sent with a different request."""


@dataclass(slots=True)
class _Job:
    command: c.Command
    render: Renderer
    actor: str | None
    idem: IdempotencyKey | None
    future: asyncio.Future[Reply] = field(repr=False)


@dataclass(slots=True)
class _Decided:
    """A group decided against the projection, waiting for (or in) its commit."""

    jobs: list[_Job]
    envelopes: list[Envelope] = field(default_factory=list)
    answers: list[IdempotencyRow] = field(default_factory=list)
    replies: list[tuple[_Job, Reply | BaseException]] = field(default_factory=list)
    pending: dict[tuple[str, str], IdempotencyRow] = field(default_factory=dict)
    seq: int = 0  # the last seq of its events (or of the state, when it has none)
    dirty: bool = False  # a command failed midway: the projection must be rebuilt
    done: bool = False  # answered and counted done for drain()


@dataclass(slots=True)
class _Commit:
    decided: _Decided
    task: asyncio.Future[None] = field(repr=False)


async def rebuild(log_: EventLog) -> HallState:
    state = HallState()
    async for e in log_.replay():
        apply(state, e.type, e.data, e.ts, e.seq)
    return state


class Writer:
    def __init__(self, cfg: HallConfig, log_: EventLog, state: HallState,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.log = log_
        self.state = state
        self.clock = clock
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.subscribers: list[Callable[[list[Envelope]], None]] = []
        self.answers: dict[tuple[str, str], IdempotencyRow] = {}
        # Keys whose first request is queued or committing: a retry waits for its answer
        # instead of running again (a kiosk re-sending while the first is on its way).
        self._in_flight: dict[tuple[str, str], _Job] = {}
        self.commits = 0
        # Commands taken and not yet answered: queued, decided, or in their commit.
        self.unanswered = 0
        self.last_commit_at = 0.0
        self._closing = False
        self._seq = state.last_seq  # the last seq decided, committed or not
        self._stale = False  # decisions may be in the projection that never reached disk

    async def load_answers(self) -> None:
        since = self.clock() - IDEMPOTENCY_TTL_S
        await self.log.prune_idempotency(since)
        for row in await self.log.idempotency_since(since):
            self.answers[(row.principal, row.key)] = row

    def subscribe(self, callback: Callable[[list[Envelope]], None]) -> None:
        """Called with each committed group, after its commit: for streams and sync."""
        self.subscribers.append(callback)

    async def submit(self, command: c.Command, render: Renderer, actor: str | None = None,
                     idem: IdempotencyKey | None = None) -> Reply:
        if self._closing:
            raise StoreError("the hall controller is shutting down")
        if idem is not None:
            slot = (idem.principal, idem.key)
            stored = self.answers.get(slot)
            if stored is not None:
                return self._replay(stored, idem)
            first = self._in_flight.get(slot)
            if first is not None:
                assert first.idem is not None
                if first.idem.fingerprint != idem.fingerprint:
                    raise IdempotencyMismatch(idem.key)
                return await asyncio.shield(first.future)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        job = _Job(command, render, actor, idem, future)
        if idem is not None:
            self._in_flight[(idem.principal, idem.key)] = job
            future.add_done_callback(lambda _: self._in_flight.pop((idem.principal, idem.key), None))
        self.queue.put_nowait(job)
        self.unanswered += 1
        return await future

    @staticmethod
    def _replay(stored: IdempotencyRow, idem: IdempotencyKey) -> Reply:
        if stored.fingerprint != idem.fingerprint:
            raise IdempotencyMismatch(idem.key)
        return stored.status, json.loads(stored.body)

    async def run(self) -> None:
        """The writer task: take what is queued, decide it, commit it, answer it.

        Pipelined one deep: while group N is on disk, what arrived meanwhile is taken and
        decided as group N+1, so the commit thread and the event loop work side by side.
        N+1 is written only after N's commit returns, and each group is answered only
        after its own commit. If N's commit fails, N+1 was decided on top of it and fails
        too; the projection is rebuilt from the log before either is answered."""
        if self._stale:  # restarted after a failure that left decisions uncommitted
            await self._rebuild()
            self._stale = False
        inflight: _Commit | None = None
        decided: _Decided | None = None
        getter: asyncio.Task[_Job] | None = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(self.queue.get())
                if inflight is not None and not getter.done():
                    await asyncio.wait((getter, inflight.task),
                                       return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():  # the commit came first: answer its group
                        await self._settle(inflight)
                        inflight = None
                        continue
                group = [getter.result() if getter.done() else await getter]
                getter = None
                while len(group) < MAX_GROUP and not self.queue.empty():
                    group.append(self.queue.get_nowait())
                decided = self._decide_group(group)
                if inflight is not None:
                    failed = await self._settle(inflight)
                    inflight = None
                    if failed is not None:
                        # The same kind of error (a full disk stays a 507 for everyone).
                        self._release(decided, type(failed)(
                            f"command not committed: an earlier commit failed: {failed}"))
                        decided = None
                        continue
                commit, decided = self._start(decided), None
                if commit.decided.dirty:
                    # A command failed midway: commit what stands, rebuild, then go on.
                    await self._settle(commit)
                else:
                    inflight = commit
        finally:
            # Cancelled (shutdown) or broken: nobody is left waiting on a lost answer, and
            # a restarted writer rebuilds the projection before it decides anything.
            stopped = StoreError("command not committed: the writer stopped")
            if getter is not None:
                if getter.done() and not getter.cancelled():
                    self._release_jobs([getter.result()], stopped)
                getter.cancel()
            for left in (decided, inflight.decided if inflight is not None else None):
                if left is not None and not left.done:
                    self._release(left, stopped)
                    self._stale = True

    async def drain(self) -> None:
        """Stop taking new commands; return once the running writer task has committed
        and answered everything already queued (for SIGTERM)."""
        self._closing = True
        await self.queue.join()

    def _decide_group(self, group: list[_Job]) -> _Decided:
        """Run every command of the group against the projection, numbering its events
        after the last decided (not committed) seq. Each command fails alone."""
        d = _Decided(group)
        seq = self._seq
        for job in group:
            if job.idem is not None:
                earlier = d.pending.get((job.idem.principal, job.idem.key))
                if earlier is not None:  # the same key twice in one group
                    try:
                        d.replies.append((job, self._replay(earlier, job.idem)))
                    except IdempotencyMismatch as exc:
                        d.replies.append((job, exc))
                    continue
            if job.idem is not None and not _storable(job.idem):
                # Refused before it is decided: a key SQLite cannot store would otherwise
                # fail the whole group's commit, every other caller's ticket with it.
                d.replies.append((job, ValueError("the Idempotency-Key cannot be stored")))
                continue
            now = self.clock()
            try:
                outcome = execute(self.state, self.cfg, job.command, now)
                reply = job.render(self.state, outcome)
                # Encoded here, inside this command's own failure boundary: data SQLite
                # cannot store fails this command alone, not the whole group's commit.
                encoded = [encode_data(e.data) for e in outcome.events]
                body = ""
                if job.idem is not None:  # only a kept answer is stored, so checked here
                    body = json.dumps(reply[1], ensure_ascii=False)
                    body.encode("utf-8")
            except Exception as exc:  # a bug in one command must not sink its group
                log.exception("command_failed", command=type(job.command).__name__)
                d.replies.append((job, exc))
                d.dirty = True  # it may have applied part of its events: rebuild after
                continue
            for event, text in zip(outcome.events, encoded, strict=True):
                seq += 1
                d.envelopes.append(Envelope(seq, new_id(), now, event.type, event.data,
                                            job.actor, text))
            if job.idem is not None:
                row = IdempotencyRow(job.idem.principal, job.idem.key, job.idem.fingerprint,
                                     reply[0], body, now)
                d.answers.append(row)
                d.pending[(row.principal, row.key)] = row
            d.replies.append((job, reply))
        self._seq = d.seq = seq
        return d

    def _start(self, d: _Decided) -> _Commit:
        """Send the group to disk; a group with nothing to write still waits its turn, so
        an answer never overtakes the commit of what it was decided on."""
        if d.envelopes or d.answers:
            task = asyncio.ensure_future(self.log.append(d.envelopes, d.answers))
        else:
            task = asyncio.ensure_future(_nothing())
        return _Commit(d, task)

    async def _settle(self, commit: _Commit) -> StoreError | None:
        """Wait for the group's commit and answer its callers; the error they got if it
        is not on disk."""
        d = commit.decided
        try:
            await commit.task
        except Exception as exc:
            if isinstance(exc, StoreError):
                log.error("commit_failed", error=str(exc), events=len(d.envelopes))
            else:
                log.exception("group_failed", size=len(d.jobs))
            error = exc if isinstance(exc, StoreError) else StoreError(
                f"command not committed: {exc}")
            try:
                await self._rebuild()
            finally:
                self._release(d, error)
            return error
        try:
            if d.envelopes or d.answers:
                self.state.last_seq = d.seq
                self.commits += 1
                self.answers.update(d.pending)
            if d.dirty:
                await self._rebuild()
            self.last_commit_at = self.clock()
            for job, result in d.replies:
                if job.future.done():  # the caller went away (a cancelled request)
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)
            if d.envelopes:
                for callback in self.subscribers:
                    try:
                        callback(d.envelopes)
                    except Exception:  # a listener's bug is not the writer's failure
                        log.exception("subscriber_failed")
        finally:
            self._release(d, StoreError("command not answered: the writer failed"))
        return None

    async def _rebuild(self) -> None:
        """The projection as the log has it: uncommitted decisions are gone with it."""
        self.state = await rebuild(self.log)
        self._seq = self.state.last_seq

    def _release(self, d: _Decided, error: BaseException) -> None:
        """Count the group done for `drain` (once), answering with `error` whoever of it
        is still waiting: nobody, once `_settle` has answered them all."""
        if not d.done:
            d.done = True
            self._release_jobs(d.jobs, error)

    def _release_jobs(self, jobs: list[_Job], error: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(error)
            self.unanswered -= 1
            self.queue.task_done()


def _storable(idem: IdempotencyKey) -> bool:
    """Text SQLite takes: no lone surrogate (what a header's undecodable byte becomes)."""
    try:
        (idem.principal + idem.key + idem.fingerprint).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _nothing() -> None:
    return None
