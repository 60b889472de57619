"""VoidTicket: an unprinted ticket leaves the queue, is never called, its number not reused."""

from __future__ import annotations

from controller.config import HallConfig
from controller.core import commands as c
from controller.core.engine import execute
from controller.core.state import HallState, TicketStatus
from controller.core.voids import TICKET_VOIDED, VoidTicket

NOW = 1_795_000_000.0  # a weekday morning


def test_voided_ticket_is_never_called_and_number_not_reused(demo_cfg: HallConfig) -> None:
    s = HallState()
    execute(s, demo_cfg, c.OpenWindow(1), NOW)
    execute(s, demo_cfg, c.IssueTicket("t1", "A", "kiosk"), NOW)
    out = execute(s, demo_cfg, VoidTicket("t1", "paper out"), NOW + 1)
    assert [e.type for e in out.events] == [TICKET_VOIDED]
    assert s.tickets["t1"].status is TicketStatus.EXPIRED
    assert s.extra["voided"] == {"t1": "paper out"}
    called = execute(s, demo_cfg, c.CallNext(1), NOW + 2)
    assert not any(e.type == "ticket.called" for e in called.events)
    execute(s, demo_cfg, c.IssueTicket("t2", "A", "kiosk"), NOW + 3)
    assert s.tickets["t2"].number == "A002"


def test_void_refused_once_called(demo_cfg: HallConfig) -> None:
    s = HallState()
    execute(s, demo_cfg, c.OpenWindow(1), NOW)
    execute(s, demo_cfg, c.IssueTicket("t1", "A", "kiosk", "green"), NOW)
    execute(s, demo_cfg, c.CallNext(1), NOW + 1)
    out = execute(s, demo_cfg, VoidTicket("t1", "x"), NOW + 2)
    assert out.refusal is not None and out.refusal.code == "not_waiting"
    assert execute(s, demo_cfg, VoidTicket("nope", "x"), NOW).refusal is not None


def test_priority_count_released(demo_cfg: HallConfig) -> None:
    s = HallState()
    execute(s, demo_cfg, c.IssueTicket("t1", "A", "kiosk", "green"), NOW)
    execute(s, demo_cfg, VoidTicket("t1", "paper out"), NOW)
    assert s.priority_waiting[("A", "green")] == 0
