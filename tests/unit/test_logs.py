"""The daemon's logging set-up (`controller.daemon.logs`)."""

from __future__ import annotations

import logging

import structlog

from controller.daemon.logs import configure


def test_debug_level_leaves_out_the_sql_parameters_aiosqlite_would_log() -> None:
    """aiosqlite logs each statement with its parameters at DEBUG (free text, sealed
    identities): `--log-level DEBUG` must not turn that on."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config(),
             logging.getLogger("aiosqlite").level)
    try:
        configure("DEBUG")
        assert root.getEffectiveLevel() == logging.DEBUG
        assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("aiosqlite").isEnabledFor(logging.INFO)
        configure("WARNING")
        assert not logging.getLogger("aiosqlite").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level, config, aiosqlite_level = saved
        root.setLevel(level)
        structlog.configure(**config)
        logging.getLogger("aiosqlite").setLevel(aiosqlite_level)


def test_a_request_aiohttp_cannot_parse_is_one_warning_line() -> None:
    from aiohttp.http_exceptions import LineTooLong

    from controller.daemon.logs import BadRequestsFilter

    try:
        raise LineTooLong("/aaaa" * 100, "8190")
    except LineTooLong:
        import sys
        record = logging.LogRecord("aiohttp.server", logging.ERROR, "web_protocol.py", 1,
                                   "Error handling request from %s", ("127.0.0.1",),
                                   sys.exc_info())
    assert BadRequestsFilter().filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    message = record.getMessage()
    assert message.startswith("bad_http_request: LineTooLong: Got more than 8190 bytes")
    assert len(message) < 200
    other = logging.LogRecord("aiohttp.server", logging.ERROR, "x.py", 1, "boom", (),
                              (ValueError, ValueError("x"), None))
    assert BadRequestsFilter().filter(other) and other.levelno == logging.ERROR
