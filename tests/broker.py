"""A private Mosquitto broker for tests, on a free port, started and stopped at will.

Persistence is on (in the test's directory) so that a broker restart keeps persistent
sessions, as a production broker does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto is not installed: run scripts/test, which installs it")
    return found


class Broker:
    def __init__(self, directory: Path, port: int | None = None, extra: str = "") -> None:
        """`extra`: more configuration (further listeners, TLS, passwords), appended."""
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            # Started as root, mosquitto switches to the `mosquitto` user, who may not read
            # this test's files (certificates, passwords, its own persistence directory).
            ("user root\n" if os.geteuid() == 0 else "")
            + ("per_listener_settings true\n" if extra else "")
            + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "max_inflight_messages 20\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
            + extra
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("mosquitto did not start")

    def stop(self) -> None:
        """A clean stop: the broker saves its persistent sessions."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
