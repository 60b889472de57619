"""The MQTT link over TLS (mqtts:// with the hall's CA file) with a username and a password
file, as a production broker runs it; a wrong password is an authentication failure that
waits the longest backoff, and the hall keeps serving meanwhile.

The broker's certificate comes from a throwaway CA made here with openssl."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from tests.broker import Broker, _free_port
from tests.conftest import make_tokens, running_hall
from tests.sync.conftest import wait_until


def make_ca(d: Path) -> None:
    """A CA and a server certificate for localhost / 127.0.0.1."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test Hall CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    (d / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt")


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, int]]:
    d = tmp_path / "tls"
    d.mkdir()
    make_ca(d)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "hall", "s3cret"],
                   check=True, capture_output=True)
    tls_port = _free_port()
    broker = Broker(tmp_path / "broker", extra=(
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {d / 'ca.crt'}\ncertfile {d / 'server.crt'}\nkeyfile {d / 'server.key'}\n"
        f"password_file {d / 'passwd'}\nallow_anonymous false\n"))
    broker.start()
    yield broker, tls_port
    broker.kill()


def tls_cfg(cfg: HallConfig, tmp_path: Path, port: int, password: str) -> HallConfig:
    password_file = tmp_path / "mqtt.password"
    password_file.write_text(password + "\n")
    return dataclasses.replace(cfg, cloud=dataclasses.replace(
        cfg.cloud, mqtt_url=f"mqtts://localhost:{port}", username="hall",
        password_file=password_file, ca_file=tmp_path / "tls" / "ca.crt", receipts=True))


async def test_events_go_up_over_tls_with_a_password(
        tmp_path: Path, demo_cfg: HallConfig, tls_broker: tuple[Broker, int]) -> None:
    broker, tls_port = tls_broker
    sim = CloudSim(broker.url, None)  # the cloud listens on the broker's plain listener
    sim_task = asyncio.create_task(sim.logic.run())
    data_dir = tmp_path / "data"
    try:
        await asyncio.wait_for(sim._connected.wait(), 10)
        async with running_hall(tls_cfg(demo_cfg, tmp_path, tls_port, "s3cret"), data_dir,
                                make_tokens(data_dir)) as api:
            for category in "ABC":
                await api.issue(category)
            await wait_until(lambda: sim.halls.get("demo-330100") is not None
                             and sim.halls["demo-330100"].contiguous >= 3, 20, "3 events")
            status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
            link = body["links"][0]
            assert link["state"] == "connected" and link["url"].startswith("mqtts://")
            assert sim.halls["demo-330100"].status == "online"
    finally:
        sim_task.cancel()
        await asyncio.gather(sim_task, return_exceptions=True)


async def test_a_wrong_password_backs_off_and_the_hall_serves_on(
        tmp_path: Path, demo_cfg: HallConfig, tls_broker: tuple[Broker, int]) -> None:
    _, tls_port = tls_broker
    data_dir = tmp_path / "data"
    async with running_hall(tls_cfg(demo_cfg, tmp_path, tls_port, "wrong"), data_dir,
                            make_tokens(data_dir)) as api:
        for _ in range(100):
            _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
            link = body["links"][0]
            if link["last_error"]:
                break
            await asyncio.sleep(0.05)
        assert link["state"] == "backoff" and not link["connected"]
        assert "authentication failed" in link["last_error"]
        ticket = await api.issue("A")  # the hall does not depend on its cloud
        assert ticket["number"] == "A001"
        _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
        assert body["links"][0]["backlog"] == 1
