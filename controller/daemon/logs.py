"""Logs: one JSON object per line on stderr (journald keeps it), for our own events and
for the libraries' stdlib logging alike (aiohttp, aiomqtt), so a log shipper never meets
a stray multi-line traceback."""

from __future__ import annotations

import logging
import sys

import structlog
from aiohttp.http_exceptions import HttpProcessingError
from structlog.typing import Processor


class BadRequestsFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a line over 8,190 bytes, a broken header)
    at ERROR with a traceback: anyone on the hall's network could fill the log with them,
    and an engineer reading it would look for a bug. One warning line instead, with what
    was wrong; the client already had its 400."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "bad_http_request: %s: %s"
            record.args = (type(exc).__name__, (exc.message or "")[:120])
            record.exc_info = record.exc_text = None
        return True


def configure(level: str = "INFO") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiosqlite logs every statement with its parameters at DEBUG: free text and sealed
    # identities would reach the log with --log-level DEBUG.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestsFilter) for f in server.filters):
        server.addFilter(BadRequestsFilter())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
