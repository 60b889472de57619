"""The baseline of bench/ticket_issue.py: a bare aiohttp server answering a fixed JSON body.

It has the daemon's process model (one process, `asyncio.run`, an `AppRunner` without an
access log, one `TCPSite`), answers `POST /api/tickets` with `201` and a fixed body shaped
and sized like a real ticket, and does nothing else: no auth, no parsing, no writer, no
SQLite. What the daemon costs on top of this is what the benchmark's ratio shows.

    python bench/bare_endpoint.py --listen 127.0.0.1:8099
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import web

# A ticket as the daemon answers it (same keys, similar size), encoded once.
BODY = json.dumps({
    "id": "01920000-0000-7000-8000-000000000000",
    "number": "A001",
    "category": "A",
    "category_name": "基准业务A",
    "channel": "kiosk",
    "priority": None,
    "status": "waiting",
    "business_day": "2025-01-01",
    "issued_at": "2025-01-01T09:00:00+08:00",
    "window": None,
    "directed_window": None,
    "recalls": 0,
    "waiting_ahead": 0,
    "estimated_wait_min": 0,
    "case_no": None,
    "item_code": None,
}, ensure_ascii=False).encode("utf-8")

HEALTH = b'{"status": "ok"}'


async def issue(request: web.Request) -> web.Response:
    await request.read()  # the daemon reads the body too
    return web.Response(body=BODY, status=201, content_type="application/json",
                        charset="utf-8")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=HEALTH, content_type="application/json", charset="utf-8")


async def serve(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/tickets", issue)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:8099", help="HOST:PORT")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    asyncio.run(serve(host or "127.0.0.1", int(port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
