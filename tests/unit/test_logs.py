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
