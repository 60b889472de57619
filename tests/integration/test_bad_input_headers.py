"""Bad input in headers, over real HTTP: a JSON 4xx, never a 500, never a traceback.

Undecodable bytes in a header are written to the socket by hand: aiohttp's client will not
send them. aiohttp's server hands them to the app as lone surrogates, which SQLite and
SHA-256 cannot encode; an Idempotency-Key made of them once failed a whole group commit,
every other kiosk's ticket with it. Bodies with a Content-Encoding the hall cannot read
(or that is not what it claims) are a JSON 400 or 415, and leave no traceback in the log.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import zlib
from typing import Any

import pytest
from yarl import URL

from tests.conftest import Api


async def raw_http(hall: Api, head: bytes, body: bytes = b"") -> tuple[int, Any]:
    """One request written byte for byte; `head` is the request line and some headers."""
    url = URL(hall.base)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(head + b"Host: hall\r\nConnection: close\r\n"
                     + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split(b" ")[1]), json.loads(payload)


def issue_head(token: str, key: bytes) -> bytes:
    return (b"POST /api/tickets HTTP/1.1\r\nAuthorization: Bearer " + token.encode()
            + b"\r\nContent-Type: application/json\r\nIdempotency-Key: " + key + b"\r\n")


async def issued_today(hall: Api, prefix: str) -> int:
    _, queue = await hall.call("GET", "/api/queue")
    return int(next(c for c in queue["categories"] if c["prefix"] == prefix)["issued_today"])


@pytest.mark.parametrize("key", [b"\xe9", b"kiosk-\xff\xfe", "kiosk-3-编号".encode()])
async def test_undecodable_idempotency_key_is_400_and_spares_the_others(
        hall: Api, key: bytes) -> None:
    async def good(n: int) -> tuple[int, Any]:
        return await hall.call("POST", "/api/tickets", hall.tokens.kiosk, {"category": "A"},
                               headers={"Idempotency-Key": f"kiosk-{n}"})

    # The bad request goes in the middle of the others, so it would share their commit.
    answers = await asyncio.gather(
        *(good(n) for n in range(25)),
        raw_http(hall, issue_head(hall.tokens.kiosk, key), b'{"category": "A"}'),
        *(good(n) for n in range(25, 50)))
    bad = answers[25]
    assert bad[0] == 400, bad
    assert bad[1]["error"] == "bad_idempotency_key"
    assert "printable ASCII" in bad[1]["detail"]
    others = answers[:25] + answers[26:]
    assert [status for status, _ in others] == [201] * 50, others
    assert await issued_today(hall, "A") == 50


async def test_undecodable_bearer_token_is_401(hall: Api) -> None:
    for path in (b"/api/tickets/x", b"/api/events"):
        status, body = await raw_http(
            hall, b"GET " + path + b" HTTP/1.1\r\nAuthorization: Bearer \xe9\xe9\r\n")
        assert (status, body) == (401, {"error": "unauthorized",
                                        "detail": "unknown or revoked token"})
    status, _ = await hall.call("GET", "/api/events", hall.tokens.supervisor)
    assert status == 200  # real tokens still work


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="aiohttp")
    return caplog


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.name.startswith("aiohttp") and r.exc_info]
    assert not logged, [r.getMessage() for r in logged]


@pytest.mark.parametrize(("coding", "body", "answer"), [
    ("gzip", b'{"category": "A"}', (400, "bad_encoding")),
    ("deflate", b"not deflate at all", (400, "bad_encoding")),
    ("gzip", gzip.compress(b'{"category": "A"}')[:-6], (400, "bad_encoding")),  # cut short
    ("br", b'{"category": "A"}', (415, "unsupported_encoding")),
    ("zstd", b'{"category": "A"}', (415, "unsupported_encoding")),
    ("compress", b'{"category": "A"}', (415, "unsupported_encoding")),
])
async def test_body_not_in_its_content_encoding_is_json_4xx(
        hall: Api, server_errors: pytest.LogCaptureFixture, coding: str, body: bytes,
        answer: tuple[int, str]) -> None:
    status, got = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, data=body,
                                  headers={"Content-Encoding": coding,
                                           "Content-Type": "application/json"})
    assert (status, got["error"]) == answer, got
    assert coding in got["detail"]
    assert await issued_today(hall, "A") == 0
    assert_no_traceback(server_errors)


async def test_compressed_bodies_still_work_within_the_size_limit(
        hall: Api, server_errors: pytest.LogCaptureFixture) -> None:
    plain = b'{"category": "A"}'
    for coding, body in (("gzip", gzip.compress(plain)), ("deflate", zlib.compress(plain))):
        status, got = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, data=body,
                                      headers={"Content-Encoding": coding})
        assert status == 201, got
    bomb = gzip.compress(b'{"category": "A", "priority": "' + b" " * 10_000_000 + b'"}')
    status, got = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, data=bomb,
                                  headers={"Content-Encoding": "gzip"})
    assert (status, got["error"]) == (413, "body_too_large")
    assert await issued_today(hall, "A") == 2
    assert_no_traceback(server_errors)
