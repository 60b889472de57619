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
import uuid6

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
        self.last_commit_at = 0.0
        self._closing = False

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
        return await future

    @staticmethod
    def _replay(stored: IdempotencyRow, idem: IdempotencyKey) -> Reply:
        if stored.fingerprint != idem.fingerprint:
            raise IdempotencyMismatch(idem.key)
        return stored.status, json.loads(stored.body)

    async def run(self) -> None:
        """The writer task: take what is queued, decide it all, commit once, answer."""
        while True:
            job = await self.queue.get()
            group = [job]
            while len(group) < MAX_GROUP and not self.queue.empty():
                group.append(self.queue.get_nowait())
            try:
                await self._commit_group(group)
            except Exception as exc:  # never leave a caller waiting on a lost group
                log.exception("group_failed", size=len(group))
                # Rebuild before answering: once told "not committed", nobody may still
                # read the group's decisions from the projection.
                try:
                    self.state = await rebuild(self.log)
                finally:
                    for j in group:
                        if not j.future.done():
                            j.future.set_exception(StoreError(f"command not committed: {exc}"))
            finally:
                for _ in group:
                    self.queue.task_done()

    async def drain(self) -> None:
        """Stop taking new commands; return once the running writer task has committed
        and answered everything already queued (for SIGTERM)."""
        self._closing = True
        await self.queue.join()

    async def _commit_group(self, group: list[_Job]) -> None:
        envelopes: list[Envelope] = []
        answers: list[IdempotencyRow] = []
        replies: list[tuple[_Job, Reply | BaseException]] = []
        pending: dict[tuple[str, str], IdempotencyRow] = {}
        seq = self.state.last_seq
        dirty = False
        for job in group:
            if job.idem is not None:
                earlier = pending.get((job.idem.principal, job.idem.key))
                if earlier is not None:  # the same key twice in one group
                    try:
                        replies.append((job, self._replay(earlier, job.idem)))
                    except IdempotencyMismatch as exc:
                        replies.append((job, exc))
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
                replies.append((job, exc))
                dirty = True  # it may have applied part of its events: rebuild below
                continue
            for event, text in zip(outcome.events, encoded, strict=True):
                seq += 1
                envelopes.append(Envelope(seq, str(uuid6.uuid7()), now, event.type,
                                          event.data, job.actor, text))
            if job.idem is not None:
                row = IdempotencyRow(job.idem.principal, job.idem.key, job.idem.fingerprint,
                                     reply[0], body, now)
                answers.append(row)
                pending[(row.principal, row.key)] = row
            replies.append((job, reply))
        if envelopes or answers:
            try:
                await self.log.append(envelopes, answers)
            except StoreError as exc:
                log.error("commit_failed", error=str(exc), events=len(envelopes))
                self.state = await rebuild(self.log)
                for job, _ in replies:
                    if not job.future.done():
                        job.future.set_exception(exc)
                return
            self.state.last_seq = seq
            self.commits += 1
            self.answers.update(pending)
        if dirty:
            self.state = await rebuild(self.log)
        self.last_commit_at = self.clock()
        for job, result in replies:
            if job.future.done():  # the caller went away (a cancelled request)
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)
        if envelopes:
            for callback in self.subscribers:
                callback(envelopes)
