"""`hallctl simulate` and `hallctl devices` as a newcomer runs them: the simulators in one
process, the daemon in another (here: this test's event loop), the table from the API."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from controller.config import DEFAULT_CONFIG, load_config
from controller.daemon.run import serve
from controller.devices.cli import format_table
from tests.conftest import REPO, demo_hall_with_devices, free_port, wait_healthy


def _hall_file(tmp: Path) -> Path:
    """The demo hall with its devices on free ports (the demo's fixed ports may be busy)."""
    return demo_hall_with_devices(tmp, f'''
[[devices]]
id = "keypad-1"
profile = "caller-keypad-ff68"
port = "dev/bus"
address = 1
window = 1

[[devices]]
id = "screen-1"
profile = "generic-ht1-screen"
port = "dev/bus"
address = 21
window = 1

[[devices]]
id = "strip"
profile = "onbon-bx5-tcp"
host = "127.0.0.1:{free_port()}"
role = "hall_strip"

[[devices]]
id = "printer"
profile = "escpos-80mm-tcp"
host = "127.0.0.1:{free_port()}"

[[devices]]
id = "counter"
profile = "people-counter-modbus-tcp"
host = "127.0.0.1:{free_port()}"
address = 1
''')


async def test_simulate_then_devices_table(tmp_path: Path) -> None:
    hall = _hall_file(tmp_path)
    data_dir = tmp_path / "data"
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "controller", "simulate", "--config", str(hall),
        "--data-dir", str(data_dir), cwd=REPO, stdout=asyncio.subprocess.PIPE)
    assert sim.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(15):
            while not any("simulating" in x for x in lines):
                lines.append((await sim.stdout.readline()).decode())
        cfg = load_config(hall)
        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(cfg, data_dir, f"127.0.0.1:{port}", stop))
        try:
            await wait_healthy(f"http://127.0.0.1:{port}")
            table = ""
            for _ in range(100):
                cli = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "controller", "devices", "--url",
                    f"http://127.0.0.1:{port}", cwd=REPO, stdout=asyncio.subprocess.PIPE)
                out, _ = await cli.communicate()
                assert cli.returncode == 0
                table = out.decode()
                rows = [r for r in table.splitlines()[1:] if r.strip()]
                if len(rows) == 5 and all(" online " in r for r in rows):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(table)
            assert table.splitlines()[0].split()[:3] == ["ID", "KIND", "STATUS"]
            assert "1号窗口 / 暂停服务" in table and "欢迎光临" in table
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
    finally:
        sim.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(sim.wait(), 10) == 0


def test_format_table_aligns_chinese() -> None:
    table = format_table([
        {"id": "screen-1", "kind": "display", "status": "online", "last_seen": None,
         "last_error": None, "content": ["1号窗口", "请A001号办理"]},
        {"id": "kp", "kind": "keypad", "status": "offline", "last_seen": None,
         "last_error": "no answer", "content": ["--- 等候0"]},
    ])
    rows = table.splitlines()
    assert rows[1].endswith("1号窗口 / 请A001号办理") and "no answer" in rows[2]
    assert rows[1].index("display") == rows[2].index("keypad")


async def test_devices_command_without_a_daemon() -> None:
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "controller", "devices", "--url",
        f"http://127.0.0.1:{free_port()}", cwd=REPO, stderr=asyncio.subprocess.PIPE)
    _, err = await cli.communicate()
    assert cli.returncode == 1 and b"cannot read" in err


async def test_simulate_commands(tmp_path: Path, capsys: object) -> None:
    from controller.devices.cli import _command
    from controller.devices.sim.hall import HallSimulation
    from tests.devices.conftest import device_list, with_devices

    cfg = with_devices(load_config(DEFAULT_CONFIG), device_list())
    sim = HallSimulation(cfg, tmp_path)
    await sim.start()
    try:
        _command(sim, cfg, "press kp1 call")
        assert list(sim.devices["kp1"].pending) == [b"\x0c"]
        _command(sim, cfg, "press kp1 12 transfer")  # digits typed before the key
        _command(sim, cfg, "press kp1 2 confirm")
        assert list(sim.devices["kp1"].pending)[1:] == [b"\x01\x02\x13", b"\x02\x0f"]
        _command(sim, cfg, "rate ev1 2")
        assert list(sim.devices["ev1"].pending) == [2]
        _command(sim, cfg, "swipe reader elder")
        assert sim.readers["reader"].card is not None
        _command(sim, cfg, "remove reader")
        assert sim.readers["reader"].card is None
        _command(sim, cfg, "paper printer out")
        assert sim.devices["printer"].paper_out
        capsys.readouterr()  # type: ignore[attr-defined]
        _command(sim, cfg, "press nobody call")  # unknown device: said so, no exception
        assert "no device 'nobody'" in capsys.readouterr().out  # type: ignore[attr-defined]
        _command(sim, cfg, "fly kp1")
        _command(sim, cfg, "help")
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert out.count("commands: press KEYPAD") == 2 and "?" not in out
    finally:
        await sim.stop()
