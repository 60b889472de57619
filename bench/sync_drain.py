"""Drain a backlog of events to a local Mosquitto, against a plain aiomqtt publisher.

    .venv/bin/python bench/sync_drain.py [--events 100000] [--batch 200] [--inflight 8]
                                         [--rounds 3] [--broker-nodelay]

Both sides run in this process against one private broker on a free port:

- uplink: the daemon's `Uplink.drain` and MQTT client (`controller.sync.mqtt_client`)
  reading the backlog from a real SQLite event log, encoding batches, publishing QoS 1
  with a bounded in-flight window, and advancing the durable cursor behind the
  acknowledgements (written at most every `CURSOR_EVERY_S`, and at the session's end);
- plain: the same batch payloads, pre-encoded in memory, published QoS 1 by a stock
  aiomqtt client with the same in-flight window and nothing else;
- from memory: the uplink again, fed the same batches from memory instead of SQLite, to
  separate the drain's own cost from the cost of reading the log.

Each timed run ends when the last of its publishes is acknowledged. `--broker-nodelay`
turns on the broker's `set_tcp_nodelay`; without it both runs end with a ~40 ms wait for
the last PUBACKs (Nagle in the broker against the client's delayed ACK).

The three run interleaved, `--rounds` times per size (this VM's pace drifts from second to
second, so each ratio is taken within a round and the goal is judged on the median).
Prints events/s for each and the ratio (goal: uplink >= 0.8 x plain), the CPU seconds of
the main thread and of the other threads (the log reader's), and the peak Python heap
(tracemalloc) of the uplink for two backlog sizes, to show memory does not grow with the
backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.config.model import CloudConfig  # noqa: E402
from controller.store.eventlog import Envelope, EventLog  # noqa: E402
from controller.store.ids import new_id  # noqa: E402
from controller.store.wire import WireBatch  # noqa: E402
from controller.sync.cursor import CursorStore  # noqa: E402
from controller.sync.mqtt_client import Client  # noqa: E402
from controller.sync.protocol import encode_wire, events_budget  # noqa: E402
from controller.sync.uplink import Uplink  # noqa: E402
from tests.broker import Broker  # noqa: E402

HALL = "bench-hall"
TOPIC = f"hall/{HALL}/events"


async def fill(log: EventLog, count: int) -> None:
    """A realistic backlog: ticket events with the payloads the engine writes."""
    now = time.time()
    chunk: list[Envelope] = []
    for seq in range(1, count + 1):
        prefix = "ABCDEFGH"[seq % 8]
        chunk.append(Envelope(seq, new_id(), now + seq / 1000, "ticket.issued", {
            "ticket_id": new_id(), "number": f"{prefix}{seq % 999 + 1:03d}",
            "category": prefix, "channel": "kiosk", "business_day": "2026-11-27",
            "seq_in_day": seq % 999 + 1,
        }, "bench"))
        if len(chunk) == 5000:
            await log.append(chunk, [])
            chunk = []
    if chunk:
        await log.append(chunk, [])


def client(port: int, name: str, inflight: int,
           kind: type[aiomqtt.Client] = aiomqtt.Client) -> aiomqtt.Client:
    """The same connection for both sides; the uplink's `kind` is the daemon's client."""
    return kind("127.0.0.1", port, identifier=name, protocol=aiomqtt.ProtocolVersion.V5,
                max_inflight_messages=inflight + 4, timeout=30)


@dataclass
class Run:
    """One timed drain: wall seconds, CPU seconds of the main (event loop) thread and of
    every thread together, and the peak traced heap (traced runs only)."""

    seconds: float
    main_cpu: float = 0.0
    all_cpu: float = 0.0
    peak: int = 0


class InMemory:
    """The backlog's batches held in memory: the drain with no SQLite read at all, to
    show what the drain's own machinery costs apart from reading the log."""

    def __init__(self, batches: list[WireBatch]) -> None:
        self.batches = batches
        self.ends = [b.last_seq for b in batches]

    def open_wire_reader(self) -> InMemory:
        return self

    def read(self, after: int, limit: int, count: int,
             max_bytes: int | None = None) -> list[WireBatch]:
        start = bisect.bisect_right(self.ends, after)
        return self.batches[start:start + count]

    def close(self) -> None:
        pass

    async def read_wire_batches(self, after: int, limit: int, count: int) -> list[WireBatch]:
        """What uplinks before the read-ahead thread asked for: lets this script measure
        an earlier tree (copied into its bench/) side by side."""
        return self.read(after, limit, count)


async def run_uplink(port: int, data_dir: Path, count: int, batch: int, inflight: int,
                     trace: bool = False, source: InMemory | None = None) -> Run:
    """Drains the backlog from its start through the daemon's Uplink and MQTT client,
    reading the SQLite log unless `source` is given. Tracing slows every allocation, so
    the timed run and the memory run are separate runs."""
    log = await EventLog.open(data_dir)
    cursors = await CursorStore.open(data_dir)
    await cursors.reset("bench")
    sizes: dict[int, int] = {}  # id of a payload -> the events it carries
    acknowledged = 0
    everything = asyncio.Event()

    def encode(batch: WireBatch) -> bytes:
        payload = encode_wire(HALL, batch)
        sizes[id(payload)] = batch.last_seq - batch.first_seq + 1
        return payload

    uplink = Uplink("bench", source or log, cursors, encode, batch, inflight,
                    linger_s=CloudConfig().batch_linger_ms / 1000)  # as the daemon's
    if trace:
        tracemalloc.start()
    try:
        async with client(port, "bench-uplink", inflight, Client) as mqtt:
            async def publish(payload: bytes) -> None:
                nonlocal acknowledged
                await mqtt.publish(TOPIC, payload, qos=1)
                acknowledged += sizes.pop(id(payload))
                if acknowledged >= count:  # the moment the plain run's gather returns
                    everything.set()

            started, main0, all0 = time.perf_counter(), time.thread_time(), time.process_time()
            # The byte budget the daemon gives its drain (sync/service.py).
            budget = events_budget(HALL, TOPIC, CloudConfig().batch_max_bytes,
                                   mqtt.max_packet_size)
            task = asyncio.create_task(uplink.drain(publish, budget))
            await everything.wait()
            run = Run(time.perf_counter() - started, time.thread_time() - main0,
                      time.process_time() - all0)
            async with asyncio.timeout(10):  # and the drain took it all as acknowledged
                while uplink.acked < count:
                    await asyncio.sleep(0.001)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if trace:
            run.peak = tracemalloc.get_traced_memory()[1]
    finally:
        if trace:
            tracemalloc.stop()
        await cursors.close()
        await log.close()
    return run


async def run_plain(port: int, payloads: list[bytes], inflight: int) -> Run:
    async with client(port, "bench-plain", inflight) as mqtt:
        window = asyncio.Semaphore(inflight)

        async def one(payload: bytes) -> None:
            async with window:
                await mqtt.publish(TOPIC, payload, qos=1)

        started, main0, all0 = time.perf_counter(), time.thread_time(), time.process_time()
        await asyncio.gather(*(one(p) for p in payloads))
        return Run(time.perf_counter() - started, time.thread_time() - main0,
                   time.process_time() - all0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3,
                        help="plain, uplink and from-memory runs, interleaved, per size")
    parser.add_argument("--broker-nodelay", action="store_true",
                        help="set_tcp_nodelay in the broker: without it both runs end with "
                             "a ~40 ms wait for the last PUBACKs (Nagle against delayed ACK)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Broker(root / "broker",
                        extra="set_tcp_nodelay true\n" if args.broker_nodelay else "")
        broker.start()
        try:
            rows = []
            for count in (args.events // 10, args.events):
                data_dir = root / f"data-{count}"
                data_dir.mkdir()
                log = await EventLog.open(data_dir)
                await fill(log, count)
                batches: list[WireBatch] = []
                while chunks := await log.read_wire_batches(
                        batches[-1].last_seq if batches else 0, args.batch, 100):
                    batches += chunks
                await log.close()
                payloads = [encode_wire(HALL, b) for b in batches]
                # Interleaved rounds: the machine's pace drifts from one second to the next,
                # and each ratio is taken within a round, side by side.
                for _ in range(args.rounds):
                    plain = await run_plain(broker.port, payloads, args.inflight)
                    uplink = await run_uplink(broker.port, data_dir, count, args.batch,
                                              args.inflight)
                    memory = await run_uplink(broker.port, data_dir, count, args.batch,
                                              args.inflight, source=InMemory(batches))
                    rows.append((count, plain, uplink, memory))
                traced = await run_uplink(broker.port, data_dir, count, args.batch,
                                          args.inflight, trace=True)
                rows.append((count, None, None, None, traced.peak))
        finally:
            broker.kill()

    print(f"sync drain to a local Mosquitto: batch {args.batch} events, "
          f"{args.inflight} batches in flight, {args.rounds} interleaved rounds per size, "
          f"broker set_tcp_nodelay {'true' if args.broker_nodelay else 'false (its default)'}")
    print(f"{'backlog':>9} {'uplink ev/s':>12} {'plain ev/s':>11} {'ratio':>6} "
          f"{'from memory':>12}  {'CPU s: uplink main/other':>24} {'plain main':>10}")
    ratios: dict[int, list[float]] = {}
    for count, *runs in rows:
        if runs[0] is None:
            print(f"{count:>9}  uplink peak heap {runs[3] / 1e6:.1f} MB")
            continue
        plain, uplink, memory = runs
        ratios.setdefault(count, []).append(plain.seconds / uplink.seconds)
        print(f"{count:>9} {count / uplink.seconds:>12.0f} {count / plain.seconds:>11.0f} "
              f"{plain.seconds / uplink.seconds:>6.2f} {plain.seconds / memory.seconds:>12.2f}  "
              f"{uplink.main_cpu:>19.2f} / {uplink.all_cpu - uplink.main_cpu:.2f} "
              f"{plain.main_cpu:>10.2f}")
    print("(from memory: the same drain fed batches already in memory, no SQLite read; "
          "other: the reader's and the cursor's threads)")
    ratio = statistics.median(ratios[args.events])
    print(f"goal: uplink >= 0.80 x plain at {args.events} events: "
          f"{'met' if ratio >= 0.8 else 'NOT met'} (median {ratio:.2f}, "
          f"rounds {min(ratios[args.events]):.2f}-{max(ratios[args.events]):.2f})")


if __name__ == "__main__":
    asyncio.run(main())
