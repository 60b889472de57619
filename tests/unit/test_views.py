"""views.waiting_ahead: the counted answer for a just-issued ticket equals the full scan,
whatever happened in the queue before (priority groups, transfers, calls). And the API's
views name the business day of their instants, which is not their calendar date."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.config import DEFAULT_CONFIG, load_config
from controller.core import commands as c
from controller.core.engine import execute
from controller.core.state import Evaluation, HallState
from controller.core.views import waiting_ahead, waiting_ahead_scan

CFG = load_config(DEFAULT_CONFIG)

step = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from("AD"),
              st.sampled_from([None, None, "green", "appointment"])),
    st.tuples(st.just("call"), st.sampled_from([1, 2, 8]), st.none()),
    st.tuples(st.just("transfer"), st.sampled_from([1, 2]), st.sampled_from("AD")),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=40))
def test_the_new_ticket_count_equals_the_scan(steps: list[tuple[str, object, object]]) -> None:
    state, now = HallState(), 1_800_000_000.0
    for n in (1, 2, 8):
        execute(state, CFG, c.OpenWindow(n), now)
    for i, (kind, a, b) in enumerate(steps):
        now += 7
        if kind == "issue":
            outcome = execute(state, CFG, c.IssueTicket(f"t{i}", str(a), "kiosk",
                                                        b if isinstance(b, str) else None), now)
            if outcome.refusal is None:
                ticket = state.tickets[f"t{i}"]
                assert waiting_ahead(state, CFG, ticket) == waiting_ahead_scan(state, CFG, ticket)
        elif kind == "call":
            execute(state, CFG, c.CallNext(int(str(a))), now)
        else:
            execute(state, CFG, c.Transfer(int(str(a)), "test", to_category=str(b)), now)
    for ticket in state.tickets.values():  # and every ticket still waiting, by the scan
        assert waiting_ahead_scan(state, CFG, ticket) >= 0


def test_a_rating_past_midnight_belongs_to_the_business_day_before_the_reset() -> None:
    """The dashboard counts today's ratings by `business_day`: between midnight and the
    numbering reset (03:00 here) the calendar date is already the next one."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from controller.web.api_evaluations import evaluation_view

    assert CFG.day.numbering_resets.hour == 3 and str(CFG.day.timezone) == "Asia/Shanghai"
    zone = ZoneInfo("Asia/Shanghai")
    for clock, day in (((0, 30), "2026-11-27"), ((2, 59), "2026-11-27"), ((3, 0), "2026-11-28")):
        at = datetime(2026, 11, 28, *clock, tzinfo=zone).timestamp()
        view = evaluation_view(CFG, Evaluation("e", "t", "ticket:t", 5, "pad", at, {}))
        assert view["at"].startswith("2026-11-28") and view["business_day"] == day
