"""A small hall and a driver that runs commands through the real engine, keeping the log
as the writer would (seq, ts, type, data)."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controller.config.loader import parse_config
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.engine import Outcome, execute
from controller.core.state import HallState

CST = ZoneInfo("Asia/Shanghai")

HALL: dict[str, Any] = {
    "hall": {"id": "flow-test", "name": "流量测试大厅"},
    "business_day": {"timezone": "Asia/Shanghai", "opens": "08:30", "closes": "17:30",
                     "numbering_resets": "03:00", "enforce_hours": False},
    "queue": {"recall_limit": 2, "suspend_return_min": 15,
              "dispatch": ["priority", "directed", "overdue", "ratio"]},
    "priority_groups": [{"name": "green", "label": "绿色通道"}],
    "categories": [
        {"prefix": "A", "name": "不动产", "daily_quota": 999, "service_level_min": 30,
         "default_service_min": 10},
        {"prefix": "B", "name": "社保", "daily_quota": 999, "service_level_min": 20,
         "default_service_min": 5},
    ],
    "windows": [
        {"number": 1, "categories": {"A": 1}, "post": "intake"},
        {"number": 2, "categories": {"B": 1}, "post": "intake"},
        {"number": 3, "categories": {"A": 1, "B": 1}, "post": "intake"},
        {"number": 4, "categories": {"B": 1}, "post": "pickup"},
    ],
    "flow": {"self_service_computers": 3, "max_waiting": 60, "over_service_level": True,
             "min_arrivals": 6},
}


def make_cfg(**flow: Any) -> HallConfig:
    raw = copy.deepcopy(HALL)
    raw["flow"].update(flow)
    return parse_config(raw, Path("flow-test.toml"))


def at(hour: int, minute: int = 0, second: int = 0, day: int = 4) -> float:
    """A wall-clock time on Monday 2024-03-04 (or another day of that month) in the hall."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=CST).timestamp()


class Driver:
    def __init__(self, cfg: HallConfig) -> None:
        self.cfg = cfg
        self.state = HallState()
        self.log: list[tuple[int, float, str, dict[str, Any]]] = []

    def run(self, when: float, cmd: Any) -> Outcome:
        out = execute(self.state, self.cfg, cmd, when)
        assert out.refusal is None, out.refusal
        for e in out.events:
            self.log.append((len(self.log) + 1, when, e.type, e.data))
        return out

    def issue(self, when: float, tid: str, cat: str, channel: str = "kiosk") -> None:
        self.run(when, c.IssueTicket(tid, cat, channel))
