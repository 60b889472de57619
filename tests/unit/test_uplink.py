"""The uplink drain on its own: a real event log and cursor store in SQLite files, and a
publisher that answers the way a broker does (each publish returns when it is
acknowledged), so the window, the order, the acknowledged prefix and the cursor writes
can be driven exactly. The MQTT path itself is tested against a real Mosquitto in
tests/sync.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.store.eventlog import Envelope, EventLog
from controller.store.ids import new_id
from controller.store.wire import WireBatch
from controller.sync import uplink as uplink_module
from controller.sync.cursor import CursorStore
from controller.sync.protocol import PROTOCOL_VERSION, encode_wire, events_budget
from controller.sync.uplink import Uplink

pytestmark = pytest.mark.timeout(60)
HALL = "测试-hall"


class CountingCursors(CursorStore):
    """The real cursor store, counting its writes."""

    writes = 0

    async def advance(self, link: str, seq: int) -> None:
        self.writes += 1
        await super().advance(link, seq)


class Broker:
    """Answers publishes when told to: `ack(n)` releases the n-th publish (from 0)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, object]] = []
        self.answers: list[asyncio.Future[None]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.auto = False

    async def publish(self, payload: bytes) -> None:
        self.payloads.append(json.loads(payload))
        answer = asyncio.get_running_loop().create_future()
        self.answers.append(answer)
        if self.auto:
            answer.set_result(None)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await answer
        finally:
            self.in_flight -= 1

    def ack(self, n: int) -> None:
        self.answers[n].set_result(None)

    def fail(self, n: int, error: Exception) -> None:
        self.answers[n].set_exception(error)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[EventLog, CountingCursors]]:
    log = await EventLog.open(tmp_path)
    cursors = await CountingCursors.open(tmp_path)
    assert isinstance(cursors, CountingCursors)
    yield log, cursors
    await cursors.close()
    await log.close()


async def fill(log: EventLog, count: int) -> list[Envelope]:
    events = [Envelope(seq, new_id(), 1_800_000_000.0 + seq, "ticket.issued",
                       {"number": f"A{seq:03d}", "category": "A"}) for seq in range(1, count + 1)]
    await log.append(events, [])
    return events


def uplink(log: EventLog, cursors: CursorStore, batch_max: int = 200,
           max_inflight: int = 8, receipt_wait_s: float | None = None) -> Uplink:
    """The drain under test; with `receipt_wait_s`, receipts are on."""
    if receipt_wait_s is None:
        return Uplink("t", log, cursors, lambda b: encode_wire(HALL, b), batch_max,
                      max_inflight)
    return Uplink("t", log, cursors, lambda b: encode_wire(HALL, b), batch_max, max_inflight,
                  receipts=True, receipt_wait_s=receipt_wait_s)


async def until(condition: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_every_event_goes_up_once_in_order_within_the_window(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    events = await fill(log, 1000)
    broker = Broker()
    broker.auto = True
    up = uplink(log, cursors, batch_max=30, max_inflight=4)
    task = asyncio.create_task(up.drain(broker.publish))
    await until(lambda: up.acked == 1000)
    await stop(task)
    sent = [e for p in broker.payloads for e in p["events"]]  # type: ignore[attr-defined]
    assert [e["seq"] for e in sent] == list(range(1, 1001))
    assert [e["id"] for e in sent] == [e.id for e in events]
    assert all(len(p["events"]) <= 30 for p in broker.payloads)  # type: ignore[arg-type]
    assert broker.most_in_flight <= 4
    assert await cursors.get("t") == 1000


async def test_the_cursor_moves_only_over_the_acknowledged_prefix(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 40)
    broker = Broker()
    up = uplink(log, cursors, batch_max=10, max_inflight=4)
    task = asyncio.create_task(up.drain(broker.publish))
    await until(lambda: len(broker.answers) == 4)
    assert broker.most_in_flight == 4  # the window is full and nothing more is sent
    broker.ack(2)
    broker.ack(3)
    await asyncio.sleep(0.05)
    assert up.acked == 0 and len(broker.answers) == 4  # batches 3 and 4 wait for 1 and 2
    broker.ack(0)
    await until(lambda: up.acked == 10)
    broker.ack(1)
    await until(lambda: up.acked == 40)
    await stop(task)
    assert await cursors.get("t") == 40


async def test_a_failed_publish_ends_the_session_and_the_next_resumes_from_the_cursor(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 50)
    broker = Broker()
    up = uplink(log, cursors, batch_max=10, max_inflight=3)
    task = asyncio.create_task(up.drain(broker.publish))
    await until(lambda: len(broker.answers) == 3)
    broker.ack(0)
    broker.fail(1, ConnectionError("broker gone"))
    with pytest.raises(ConnectionError, match="broker gone"):
        await task
    assert await cursors.get("t") == 10  # durable as the session ends

    again = Broker()
    again.auto = True
    up = uplink(log, cursors, batch_max=10, max_inflight=3)
    task = asyncio.create_task(up.drain(again.publish))
    await until(lambda: up.acked == 50)
    await stop(task)
    assert again.payloads[0]["first_seq"] == 11


async def test_a_fast_drain_writes_its_cursor_far_less_often_than_it_is_acknowledged(
        store: tuple[EventLog, CountingCursors], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uplink_module, "CURSOR_EVERY_S", 0.05)
    log, cursors = store
    await fill(log, 2000)
    up = uplink(log, cursors, batch_max=5, max_inflight=1)

    async def slow_publish(payload: bytes) -> None:
        await asyncio.sleep(0.001)  # 400 acknowledgements, one every millisecond or two

    task = asyncio.create_task(up.drain(slow_publish))
    await until(lambda: up.acked == 2000)
    await stop(task)
    assert up.sent_batches == 400
    assert cursors.writes < 40  # about one per CURSOR_EVERY_S, plus the last one
    assert await cursors.get("t") == 2000


async def test_new_events_wake_a_drain_that_has_caught_up(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 5)
    broker = Broker()
    broker.auto = True
    up = uplink(log, cursors)
    task = asyncio.create_task(up.drain(broker.publish))
    await until(lambda: up.acked == 5)
    more = [Envelope(6, new_id(), 1_800_000_006.0, "ticket.called", {"number": "A001"})]
    await log.append(more, [])
    up.notify(more)
    await until(lambda: up.acked == 6)
    await stop(task)
    assert broker.payloads[-1]["first_seq"] == 6


async def test_events_committed_while_the_drain_runs_go_up_once_in_order(
        store: tuple[EventLog, CountingCursors]) -> None:
    """The read-ahead thread races the writer: each commit lands before, during or after
    a read, and is announced the way the writer does (notify after the commit)."""
    log, cursors = store
    broker = Broker()
    broker.auto = True
    up = uplink(log, cursors, batch_max=7, max_inflight=3)
    task = asyncio.create_task(up.drain(broker.publish))
    seq = 0
    for size in [1, 3, 50, 2, 200, 1, 1, 1, 30, 9] * 5:
        group = [Envelope(s, new_id(), 1_800_000_000.0 + s, "ticket.issued", {"n": s})
                 for s in range(seq + 1, seq + size + 1)]
        await log.append(group, [])
        up.notify(group)
        seq += size
        await asyncio.sleep(0.001 * (size % 3))
    await until(lambda: up.acked == seq)
    await stop(task)
    sent = [e["seq"] for p in broker.payloads for e in p["events"]]  # type: ignore[attr-defined]
    assert sent == list(range(1, seq + 1))


class Receiver:
    """The cloud end of the receipts: keeps events by seq, confirms the contiguous prefix,
    and can lose the next batches as a broker that crashed after its PUBACK would."""

    def __init__(self, up: Uplink, lose: int = 0, confirms: bool = True) -> None:
        self.up = up
        self.lose = lose
        self.confirms = confirms
        self.seqs: set[int] = set()
        self.contiguous = 0
        self.batches = 0

    async def publish(self, payload: bytes) -> None:
        self.batches += 1
        if self.lose:
            self.lose -= 1
            return  # acknowledged by the broker, never delivered
        for event in json.loads(payload)["events"]:
            self.seqs.add(event["seq"])
        while self.contiguous + 1 in self.seqs:
            self.contiguous += 1
        if self.confirms:
            await self.up.receipt(self.contiguous)


async def test_a_batch_lost_after_its_puback_is_sent_again_within_the_session(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 100)
    up = uplink(log, cursors, 10, 2, receipt_wait_s=0.05)
    receiver = Receiver(up, lose=1)
    task = asyncio.create_task(up.drain(receiver.publish))
    await until(lambda: up.received == 100)  # the receipt written, not only sent
    await stop(task)
    assert receiver.contiguous == 100
    assert receiver.seqs == set(range(1, 101))
    assert up.resends >= 1 and up.acked == 100 and up.received == 100
    assert await cursors.get("t.receipt") == 100


async def test_a_receiver_that_never_confirms_costs_ever_rarer_resends(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 20)
    up = uplink(log, cursors, 10, 2, receipt_wait_s=0.04)
    receiver = Receiver(up, confirms=False)
    task = asyncio.create_task(up.drain(receiver.publish))
    # Re-sends after 0.04, 0.12 and 0.28 s (the waits double); the next would be at 0.6 s.
    await asyncio.sleep(0.45)
    await stop(task)
    assert up.acked == 20 and up.received == 0
    assert 2 <= up.resends <= 3
    assert receiver.batches == 2 * (1 + up.resends)  # each re-send is the whole backlog


@given(hall=st.text(min_size=1, max_size=20), first=st.integers(1, 2**53),
       count=st.integers(1, 1000))
def test_encode_wire_is_the_compact_json_of_the_batch(hall: str, first: int,
                                                      count: int) -> None:
    """The bytes-built header equals json.dumps of the same object, for any hall id
    (quotes, backslashes, control characters, CJK, lone surrogates excepted by JSON)."""
    try:
        hall.encode()
    except UnicodeEncodeError:
        return
    events = b'{"seq":1},{"seq":2}'
    wire = encode_wire(hall, WireBatch(first, first + count, events))
    expected = json.dumps({"v": PROTOCOL_VERSION, "hall_id": hall, "first_seq": first,
                           "last_seq": first + count, "events": [{"seq": 1}, {"seq": 2}]},
                          ensure_ascii=False, separators=(",", ":")).encode()
    assert wire == expected


async def test_a_receipt_on_its_way_is_not_taken_for_a_loss(
        store: tuple[EventLog, CountingCursors]) -> None:
    """A quiet hall: one event now and then, its receipt 30 ms behind the PUBACK. A check
    that comes between the two must not re-send: only what was acknowledged before a
    whole wait began counts as overdue."""
    log, cursors = store
    up = uplink(log, cursors, 10, 2, receipt_wait_s=0.1)
    receiver = Receiver(up, confirms=False)
    pending: set[asyncio.Task[None]] = set()

    async def publish(payload: bytes) -> None:
        await receiver.publish(payload)

        async def confirm_later() -> None:
            await asyncio.sleep(0.03)
            await up.receipt(receiver.contiguous)
        task = asyncio.create_task(confirm_later())
        pending.add(task)
        task.add_done_callback(pending.discard)

    task = asyncio.create_task(up.drain(publish))
    for seq in range(1, 16):
        event = Envelope(seq, new_id(), 1_800_000_000.0 + seq, "ticket.issued", {"n": seq})
        await log.append([event], [])
        up.notify([event])
        # Longer than a wait, and drifting 30 ms against the 0.1 s checks each time: now
        # and then a PUBACK lands just before a check, with no receipt during that wait.
        await asyncio.sleep(0.13)
    await until(lambda: up.received == 15)
    await stop(task)
    assert up.resends == 0


async def test_the_wait_is_short_again_as_soon_as_the_receipt_moves(
        store: tuple[EventLog, CountingCursors]) -> None:
    """After a long stall (the wait doubled to 1.6 s), receipts come back; a batch lost
    right then is sent again after about two short waits, not after the long one."""
    log, cursors = store
    await fill(log, 10)
    up = uplink(log, cursors, 10, 2, receipt_wait_s=0.05)
    receiver = Receiver(up, confirms=False)
    task = asyncio.create_task(up.drain(receiver.publish))
    await until(lambda: up.resends == 5)  # waits of 0.05 ... 0.8 s: the next is 1.6 s
    receiver.confirms = True
    first = [Envelope(11, new_id(), 1_800_000_011.0, "ticket.called", {"n": 11})]
    await log.append(first, [])
    up.notify(first)
    await until(lambda: up.received == 11)
    receiver.lose = 1
    lost = [Envelope(12, new_id(), 1_800_000_012.0, "ticket.called", {"n": 12})]
    await log.append(lost, [])
    up.notify(lost)
    await until(lambda: up.received == 12, timeout=0.8)
    await stop(task)


async def test_a_drain_cancelled_twice_leaves_no_reader_thread(
        store: tuple[EventLog, CountingCursors]) -> None:
    log, cursors = store
    await fill(log, 50)
    broker = Broker()  # never answers: the publishes are in flight when the drain ends
    up = uplink(log, cursors, batch_max=5, max_inflight=2)
    task = asyncio.create_task(up.drain(broker.publish))
    await until(lambda: len(broker.answers) == 2)
    task.cancel()
    await asyncio.sleep(0)  # its `finally` is now awaiting the cancelled publishes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await until(lambda: not [t for t in threading.enumerate()
                             if t.name == "hall-uplink-reader"], timeout=5)


@given(hall=st.text(min_size=1, max_size=60), topic=st.text(min_size=1, max_size=60),
       broker_max=st.none() | st.integers(2000, 10**6))
def test_a_batch_within_the_budget_fits_the_broker(hall: str, topic: str,
                                                   broker_max: int | None) -> None:
    """The events of a batch cut to `events_budget` bytes, with the largest seqs, make a
    PUBLISH no bigger than the broker's maximum packet size and [cloud].batch_max_bytes."""
    budget = events_budget(hall, topic, 256 * 1024, broker_max)
    payload = encode_wire(hall, WireBatch(10**19, 10**19, b"x" * budget))
    # fixed header (1 + a 4-byte remaining length at most), topic, packet id, no properties
    publish = 1 + 4 + 2 + len(topic.encode()) + 2 + 1 + len(payload)
    assert publish <= min(256 * 1024, broker_max if broker_max is not None else 10**9)


async def test_an_event_bigger_than_the_budget_goes_alone_and_says_why(
        store: tuple[EventLog, CountingCursors]) -> None:
    """Nothing is skipped for being big: the event goes up alone (a broker that allows
    it takes it), and the log names the seq an installer must look at."""
    from structlog.testing import capture_logs

    log, cursors = store
    events = [Envelope(s, new_id(), 1_800_000_000.0 + s, "notice.posted",
                       {"text": "长" * (900 if s == 3 else 10)}) for s in range(1, 6)]
    await log.append(events, [])
    broker = Broker()
    broker.auto = True
    up = uplink(log, cursors, batch_max=10)
    with capture_logs() as logs:
        task = asyncio.create_task(up.drain(broker.publish, 1000))
        await until(lambda: up.acked == 5)
        await stop(task)
    assert [(p["first_seq"], p["last_seq"]) for p in broker.payloads] == [(1, 2), (3, 3), (4, 5)]
    assert [(e["event"], e["seq"]) for e in logs if e["log_level"] == "error"] == [
        ("event_larger_than_broker_allows", 3)]
