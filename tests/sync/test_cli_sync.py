"""`hallctl sync` as the engineer at the box runs it, against a daemon linked to a real
Mosquitto: a line per link, and an exit status that says whether the links are up."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from controller.cli import main
from controller.cloudsim.server import CloudSim
from controller.config import DEFAULT_CONFIG, HallConfig
from tests.broker import Broker
from tests.conftest import Api, free_port, make_tokens, running_hall

pytestmark = pytest.mark.timeout(90)


async def hallctl(*argv: str) -> int:
    return await asyncio.to_thread(main, ["sync", *argv])


def table(out: str) -> list[str]:
    """The command's lines (the daemon runs in this process, and its log goes to stdout)."""
    return [line for line in out.splitlines()
            if line.startswith(("LINK ", "mqtt ", "haochaping "))]


async def link_state(api: Api) -> dict[str, object]:
    _, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    return body["links"][0]  # type: ignore[no-any-return]


async def test_hallctl_sync_says_whether_the_links_are_up_and_why_not(
        synced_hall: Api, broker: Broker, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with asyncio.timeout(20):
        while not (await link_state(synced_hall))["connected"]:
            await asyncio.sleep(0.05)
    assert await hallctl("--url", synced_hall.base, "--token",
                         synced_hall.tokens.supervisor) == 0
    lines = table(capsys.readouterr().out)
    assert lines[0].split()[:4] == ["LINK", "STATE", "BACKLOG", "OLDEST"]
    assert lines[1].split()[:2] == ["mqtt", "connected"]
    assert lines[1].split()[-1] == broker.url
    assert lines[2].split()[:2] == ["haochaping", "not_configured"]  # not counted as down

    broker.stop()
    async with asyncio.timeout(30):
        while (await link_state(synced_hall))["connected"] or not (
                await link_state(synced_hall))["last_error"]:
            await asyncio.sleep(0.05)
    monkeypatch.setenv("HALL_TOKEN", synced_hall.tokens.supervisor)  # the token from the env
    assert await hallctl("--url", synced_hall.base) == 1
    mqtt = table(capsys.readouterr().out)[1]
    assert mqtt.split()[0] == "mqtt" and mqtt.split()[1] != "connected"
    assert str((await link_state(synced_hall))["last_error"])[:20] in mqtt  # says why

    assert await hallctl("--url", synced_hall.base, "--token", synced_hall.tokens.kiosk) == 1
    assert "supervisor" in capsys.readouterr().err

    # After an install: wait for the link to come up, and say so in the exit status.
    waiting = asyncio.create_task(hallctl("--url", synced_hall.base, "--wait", "30"))
    await asyncio.sleep(1.0)
    assert not waiting.done()  # the broker is still away
    broker.start()
    assert await waiting == 0
    assert table(capsys.readouterr().out)[1].split()[:2] == ["mqtt", "connected"]

    monkeypatch.delenv("HALL_TOKEN")
    assert await hallctl("--url", synced_hall.base) == 2
    assert "token" in capsys.readouterr().err


async def test_a_review_link_with_nothing_sent_yet_is_idle_not_down(
        tmp_path: Path, demo_cfg: HallConfig, review_cloud: tuple[CloudSim, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    """On a fresh install the review system has not been asked anything: `idle`, and the
    exit status does not wait for a rating that nobody has given yet."""
    _, base = review_cloud
    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, evaluation_url=base + "/evaluations"))
    data_dir = tmp_path / "data"
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        assert await hallctl("--url", api.base, "--token", api.tokens.supervisor,
                             "--wait", "5") == 0
        rows = table(capsys.readouterr().out)
    assert rows[1].split()[:2] == ["mqtt", "not_configured"]
    assert rows[2].split()[:2] == ["haochaping", "idle"]


class Stub:
    """A server that answers /api/sync and its dead letters as it is told."""

    def __init__(self, sync: web.Response, letters: web.Response) -> None:
        self.answers = {"/api/sync": sync, "/api/sync/dead-letters": letters}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        return self.answers[request.path]


async def serve_stub(stub: Stub) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/api/sync", stub.handle)
    app.router.add_get("/api/sync/dead-letters", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("sync", "letters", "says"), [
    ('{}', '{"dead_letters": []}', "not the answer of a hall daemon"),
    ('[]', '{"dead_letters": []}', "not the answer of a hall daemon"),
    ('{"links": [{"link": "mqtt", "state": "connected", "backlog": "3"}]}',
     '{"dead_letters": []}', "unexpected shape"),
    ('<html>', '{"dead_letters": []}', "cannot read"),
    ('{"links": []}', None, "/api/sync/dead-letters answered 404"),
])
async def test_an_answer_that_is_not_a_daemons_is_one_clear_line(
        sync: str, letters: str | None, says: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    stub = Stub(web.Response(text=sync, content_type="application/json"),
                web.Response(status=404) if letters is None
                else web.Response(text=letters, content_type="application/json"))
    runner, url = await serve_stub(stub)
    try:
        assert await hallctl("--url", url, "--token", "t") == 1
    finally:
        await runner.cleanup()
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


async def test_wait_waits_for_a_daemon_that_is_not_answering_yet(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Right after an install restarts the daemon, nothing listens for a moment."""
    port = free_port()
    waiting = asyncio.create_task(hallctl("--url", f"http://127.0.0.1:{port}", "--token",
                                          "t", "--wait", "20"))
    await asyncio.sleep(1.0)
    assert not waiting.done()
    stub = Stub(web.Response(text='{"links": [{"link": "mqtt", "state": "connected", '
                                  '"connected": true, "backlog": 0, "url": "mqtt://x"}]}',
                             content_type="application/json"),
                web.Response(text='{"dead_letters": []}', content_type="application/json"))
    app = web.Application()
    app.router.add_get("/api/sync", stub.handle)
    app.router.add_get("/api/sync/dead-letters", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        assert await waiting == 0
    finally:
        await runner.cleanup()
    assert table(capsys.readouterr().out)[1].split()[:2] == ["mqtt", "connected"]


async def test_a_hall_listening_everywhere_is_called_on_this_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stub = Stub(web.Response(text='{"links": []}', content_type="application/json"),
                web.Response(text='{"dead_letters": []}', content_type="application/json"))
    runner, url = await serve_stub(stub)
    port = url.rsplit(":", 1)[1]
    for name in DEFAULT_CONFIG.parent.iterdir():
        if name.is_file():
            shutil.copy(name, tmp_path / name.name)
    hall = tmp_path / DEFAULT_CONFIG.name
    hall.write_text(hall.read_text(encoding="utf-8").replace(
        '# listen = "127.0.0.1:8080"', f'listen = "0.0.0.0:{port}"'), encoding="utf-8")
    try:
        assert await hallctl("--config", str(hall), "--token", "t") == 0
    finally:
        await runner.cleanup()
    assert table(capsys.readouterr().out)[0].startswith("LINK")
