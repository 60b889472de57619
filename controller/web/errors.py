"""Every error the API gives is JSON `{"error": CODE, "detail": TEXT}`, and bad input is a 4xx.

The middleware turns refusals, aiohttp's own HTTP errors and store failures into that shape,
so a client never has to parse an HTML error page, and a 5xx only ever means the disk.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from controller.core.errors import Refusal
from controller.store.eventlog import StoreError, StoreFull
from controller.store.writer import IdempotencyMismatch

log = structlog.get_logger("web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def error_response(status: int, code: str, detail: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"error": code, "detail": detail}, status=status, headers=headers,
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.detail)
    except Refusal as exc:
        return error_response(exc.status, exc.code, exc.detail)
    except IdempotencyMismatch:
        return error_response(
            422, "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
    except StoreFull:
        return error_response(
            507, "store_full",
            "the hall's disk is full: nothing was recorded. Free space or raise "
            "[store] max_size_mb; reading the queue still works")
    except StoreError as exc:
        return error_response(503, "store_unavailable", str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
        return error_response(exc.status, code, exc.reason or code)
