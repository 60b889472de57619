"""`hallctl cloud-sim` started wrong: one line saying why and an exit status, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cloud_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", "cloud-sim", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60, check=False)


def test_a_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    proc = cloud_sim("--secret-file", str(tmp_path / "review.secret"))
    assert proc.returncode == 2
    assert "--secret-file" in proc.stderr and "review.secret" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_listen_port_already_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cloud_sim("--listen", f"127.0.0.1:{port}")
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr and "Traceback" not in proc.stderr
