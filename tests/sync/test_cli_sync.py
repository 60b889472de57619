"""`hallctl sync` as the engineer at the box runs it, against a daemon linked to a real
Mosquitto: a line per link, and an exit status that says whether the links are up."""

from __future__ import annotations

import asyncio

import pytest

from controller.cli import main
from tests.broker import Broker
from tests.conftest import Api

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
