"""Revoking a token: `hallctl token revoke` on the data directory of a running daemon, and
the daemon refuses the token once its short cache time has passed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from controller.web import auth
from tests.conftest import REPO, Api


async def test_a_revoked_token_is_refused_while_the_daemon_runs(
        hall: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "CACHE_S", 0.2)
    status, _ = await hall.call("POST", "/api/tickets", hall.tokens.kiosk, {"category": "A"})
    assert status == 201
    data_dir = tmp_path / "data"
    listing = subprocess.run([sys.executable, "-m", "controller", "token", "list",
                              "--data-dir", str(data_dir)], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    assert hall.tokens.kiosk not in listing  # ids and roles only, never a token
    kiosk_id = next(line.split()[0] for line in listing.splitlines()[1:]
                    if line.split()[1] == "kiosk")
    done = subprocess.run([sys.executable, "-m", "controller", "token", "revoke", kiosk_id,
                           "--data-dir", str(data_dir)], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    for _ in range(100):
        status, body = await hall.call("POST", "/api/tickets", hall.tokens.kiosk,
                                       {"category": "A"})
        if status == 401:
            break
        await asyncio.sleep(0.05)
    assert (status, body["error"]) == (401, "unauthorized")
    again = subprocess.run([sys.executable, "-m", "controller", "token", "revoke", kiosk_id,
                            "--data-dir", str(data_dir)], cwd=REPO, capture_output=True,
                           text=True)
    assert again.returncode == 1 and "no active token" in again.stderr
    status, _ = await hall.call("POST", "/api/tickets", hall.tokens.supervisor,
                                {"category": "A"})
    assert status == 201  # the other tokens are untouched
