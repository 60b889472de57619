"""Drain a backlog of events to a local Mosquitto, against a plain aiomqtt publisher.

    .venv/bin/python bench/sync_drain.py [--events 100000] [--batch 200] [--inflight 8]

Both sides run in this process against one private broker on a free port:

- uplink: the daemon's `Uplink.drain` reading the backlog from a real SQLite event log,
  encoding batches, publishing QoS 1 with a bounded in-flight window, and advancing the
  durable cursor (an fsync'd SQLite write) on every acknowledgement;
- plain: the same batch payloads, pre-encoded in memory, published QoS 1 by aiomqtt with
  the same in-flight window and nothing else.

Prints events/s for each and the ratio (goal: uplink >= 0.8 x plain), and the peak Python
heap (tracemalloc) of the uplink for two backlog sizes, to show memory does not grow
with the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.store.eventlog import Envelope, EventLog  # noqa: E402
from controller.store.ids import new_id  # noqa: E402
from controller.sync.cursor import CursorStore  # noqa: E402
from controller.sync.protocol import encode_wire  # noqa: E402
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


def client(port: int, name: str, inflight: int) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, identifier=name,
                          protocol=aiomqtt.ProtocolVersion.V5,
                          max_inflight_messages=inflight + 4, timeout=30)


async def run_uplink(port: int, data_dir: Path, count: int, batch: int, inflight: int,
                     trace: bool = False) -> tuple[float, int]:
    """Drains the log from its start; returns (seconds, peak traced heap or 0). Tracing
    slows every allocation, so the timed run and the memory run are separate runs."""
    log = await EventLog.open(data_dir)
    cursors = await CursorStore.open(data_dir)
    await cursors.reset("bench")
    uplink = Uplink("bench", log, cursors, lambda b: encode_wire(HALL, b), batch, inflight)
    if trace:
        tracemalloc.start()
    try:
        async with client(port, "bench-uplink", inflight) as mqtt:
            async def publish(payload: bytes) -> None:
                await mqtt.publish(TOPIC, payload, qos=1)

            started = time.perf_counter()
            task = asyncio.create_task(uplink.drain(publish))
            while uplink.acked < count:
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        if trace:
            tracemalloc.stop()
        await cursors.close()
        await log.close()
    return elapsed, peak


async def run_plain(port: int, payloads: list[bytes], inflight: int) -> float:
    async with client(port, "bench-plain", inflight) as mqtt:
        window = asyncio.Semaphore(inflight)

        async def one(payload: bytes) -> None:
            async with window:
                await mqtt.publish(TOPIC, payload, qos=1)

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in payloads))
        return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--inflight", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Broker(root / "broker")
        broker.start()
        try:
            rows = []
            peaks = {}
            for count in (args.events // 10, args.events):
                data_dir = root / f"data-{count}"
                data_dir.mkdir()
                log = await EventLog.open(data_dir)
                await fill(log, count)
                payloads: list[bytes] = []
                after = 0
                while chunks := await log.read_wire_batches(after, args.batch, 100):
                    payloads += [encode_wire(HALL, chunk) for chunk in chunks]
                    after = chunks[-1].last_seq
                await log.close()
                plain = await run_plain(broker.port, payloads, args.inflight)
                uplink, _ = await run_uplink(broker.port, data_dir, count, args.batch,
                                             args.inflight)
                _, peaks[count] = await run_uplink(broker.port, data_dir, count, args.batch,
                                                   args.inflight, trace=True)
                rows.append((count, count / uplink, count / plain))
        finally:
            broker.kill()

    print(f"sync drain to a local Mosquitto: batch {args.batch} events, "
          f"{args.inflight} batches in flight")
    print(f"{'backlog':>9} {'uplink ev/s':>12} {'plain ev/s':>11} {'ratio':>6}  "
          f"{'uplink peak heap':>16}")
    for count, up, plain in rows:
        print(f"{count:>9} {up:>12.0f} {plain:>11.0f} {up / plain:>6.2f}  "
              f"{peaks[count] / 1e6:>14.1f} MB")
    ratio = rows[-1][1] / rows[-1][2]
    print(f"goal: uplink >= 0.80 x plain at {args.events} events: "
          f"{'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
