"""The provincial review system's record (Zhejiang-style offline evaluation upload), built
from an evaluation: a pure mapping, documented field by field in docs/haochaping.md.

Our codes are never passed through: each concept is mapped here or in configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from controller.config.model import HallConfig
from controller.core.clock import local
from controller.core.state import Evaluation, HallState

if TYPE_CHECKING:
    from controller.catalog.model import Item
    from controller.core.cases import Case

# Zhejiang's `satisfaction` runs 1 非常不满意 … 5 非常满意, as our levels do. The national
# data set (GB/T 39046) runs the other way; a hall reporting there maps 6 - level.
PRO_STATUS_DONE = "3"
PROMISE_INSTANT = "2"  # Zhejiang promiseTime: 承诺件 = 1, 即办件 = 2
PROMISE_PROMISED = "1"
PRO_STATUS_IN_PROGRESS = "2"
USER_PERSON = "1"
USER_LEGAL_ENTITY = "2"
FIRST_ASSESSMENT = "1"


def _time(at: float | None, cfg: HallConfig) -> str:
    return "" if at is None else local(at, cfg.day).strftime("%Y-%m-%d %H:%M:%S")


def report_fields(cfg: HallConfig, state: HallState, e: Evaluation) -> dict[str, str]:
    d = e.data
    review = cfg.review
    channel_codes = dict(review.channel_codes)
    category = cfg.categories.get(str(d.get("category")))
    window = cfg.windows.get(d["window"]) if isinstance(d.get("window"), int) else None
    item, case = _item_and_case(cfg, state, d)
    case_type = case.case_type if case else (item.case_type if item else None)
    in_progress = case is not None and case.case_type == "promised" and case.status != "picked_up"
    # Anonymous: the citizen chose it at the pad (the company too is then not named).
    named = review.real_name and not d.get("anonymous")
    company = str(d.get("credit_code") or "") if named else ""
    return {
        "areaCode": review.area_code,
        "areaName": review.area_name,
        "deptCode": review.dept_code,
        "taskCode": str(d.get("item_code") or (case.item_code if case else "")),
        "taskName": item.name if item else (category.name if category else ""),
        "subMatter": category.name if category else "",
        "projectNo": str(d.get("case_no") or (case.case_no if case else None)
                         or d.get("ticket_id") or ""),
        "proStatus": PRO_STATUS_IN_PROGRESS if in_progress else PRO_STATUS_DONE,
        "proDepartCode": review.dept_code,
        "proDepart": review.dept_name,
        "proManager": window.name if window else "",
        "pf": channel_codes.get(e.channel, "5"),
        # A company's credit code is reported as it is (the clerk gave it at completion);
        # a person's ID number only from its sealed copy (review_uplink), else anonymous.
        "certkeyGOV": company,
        "userName": "",
        "userProp": USER_LEGAL_ENTITY if company else USER_PERSON,
        "satisfaction": str(e.level),
        "evalDetail": ",".join(d.get("reasons") or []),
        "writingEvaluation": str(d.get("comment") or ""),
        "assessTime": _time(e.at, cfg),
        "assessNumber": str(d.get("assess_number") or FIRST_ASSESSMENT),  # 2: a follow-up
        "appStatus": "1",
        "promiseTime": PROMISE_PROMISED if case_type == "promised" else PROMISE_INSTANT,
        "acceptDate": _time(case.accepted_at if case else d.get("served_at"), cfg),
        "dataSource": review.data_source,
    }


def _item_and_case(cfg: HallConfig, state: HallState, d: dict[str, Any]
                   ) -> tuple[Item | None, Case | None]:
    """The rated service's item (from the catalog in force) and case, when known."""
    from controller.core import cases, catalog

    book = cases.peek(state)
    # The case the ticket was completed with; else one accepted for the ticket.
    case_no = d.get("case_no") or book.by_ticket.get(str(d.get("ticket_id")))
    case = book.cases.get(str(case_no)) if case_no else None
    code = d.get("item_code") or (case.item_code if case else None)
    item = catalog.items(state, cfg).get(str(code)) if code else None
    return item, case


def encode_form(fields: dict[str, str]) -> bytes:
    return urlencode(fields, encoding="utf-8").encode("ascii")
