"""What each device should show: pure functions of the hall state."""

from __future__ import annotations

from controller.config import HallConfig
from controller.config.model import DeviceEntry
from controller.core import commands as c
from controller.core.engine import execute
from controller.core.state import HallState
from controller.devices.content import call_mark, content_for

NOW = 1_795_000_000.0
SCREEN = DeviceEntry("s", "generic-ht1-screen", "display", port="p", address=1, window=1,
                     role="window_screen")
STRIP = DeviceEntry("h", "onbon-bx5-tcp", "display", host="h", tcp_port=1, role="hall_strip")
KEYPAD = DeviceEntry("k", "caller-keypad-ff68", "keypad", port="p", address=2, window=1)


def test_window_screen_keypad_and_strip(demo_cfg: HallConfig) -> None:
    s = HallState()
    assert content_for(s, demo_cfg, SCREEN, 1) == ("暂停服务",)
    execute(s, demo_cfg, c.OpenWindow(1), NOW)
    assert content_for(s, demo_cfg, SCREEN, 2) == ("1号窗口", "热情为您服务")
    assert content_for(s, demo_cfg, STRIP) == (f"欢迎光临{demo_cfg.hall_name}",)
    execute(s, demo_cfg, c.IssueTicket("t1", "A", "kiosk"), NOW)
    execute(s, demo_cfg, c.IssueTicket("t2", "D", "kiosk"), NOW)
    assert content_for(s, demo_cfg, KEYPAD) == (None, 2)
    execute(s, demo_cfg, c.CallNext(1), NOW + 1)
    assert content_for(s, demo_cfg, SCREEN, 1) == ("请A001号办理",)
    assert content_for(s, demo_cfg, KEYPAD) == ("A001", 1)
    assert "A001" in content_for(s, demo_cfg, STRIP)[0]
    mark = call_mark(s, demo_cfg, SCREEN)
    execute(s, demo_cfg, c.Recall(1), NOW + 2)
    assert call_mark(s, demo_cfg, SCREEN) != mark  # a recall re-sends the same text
    assert call_mark(s, demo_cfg, KEYPAD) is None
    execute(s, demo_cfg, c.PauseWindow(1, "午休"), NOW + 3)
    assert content_for(s, demo_cfg, SCREEN, 2)[1] == "暂停服务"
