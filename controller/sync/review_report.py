"""The provincial review system's record (Zhejiang-style offline evaluation upload), built
from an evaluation: a pure mapping, documented field by field in docs/haochaping.md.

Our codes are never passed through: each concept is mapped here or in configuration.
"""

from __future__ import annotations

from urllib.parse import urlencode

from controller.config.model import HallConfig
from controller.core.clock import local
from controller.core.state import Evaluation, HallState

# Zhejiang's `satisfaction` runs 1 非常不满意 … 5 非常满意, as our levels do. The national
# data set (GB/T 39046) runs the other way; a hall reporting there maps 6 - level.
PRO_STATUS_DONE = "3"
PROMISE_INSTANT = "2"  # Zhejiang promiseTime: 承诺件 = 1, 即办件 = 2
USER_PERSON = "1"
FIRST_ASSESSMENT = "1"


def _time(at: float | None, cfg: HallConfig) -> str:
    return "" if at is None else local(at, cfg.day).strftime("%Y-%m-%d %H:%M:%S")


def report_fields(cfg: HallConfig, state: HallState, e: Evaluation) -> dict[str, str]:
    d = e.data
    review = cfg.review
    channel_codes = dict(review.channel_codes)
    category = cfg.categories.get(str(d.get("category")))
    window = cfg.windows.get(d["window"]) if isinstance(d.get("window"), int) else None
    return {
        "areaCode": review.area_code,
        "areaName": review.area_name,
        "deptCode": review.dept_code,
        "taskCode": str(d.get("item_code") or ""),
        "taskName": category.name if category else "",
        "subMatter": category.name if category else "",
        "projectNo": str(d.get("case_no") or d.get("ticket_id") or ""),
        "proStatus": PRO_STATUS_DONE,
        "proDepartCode": review.dept_code,
        "proDepart": review.dept_name,
        "proManager": window.name if window else "",
        "pf": channel_codes.get(e.channel, "5"),
        "certkeyGOV": "",  # no identity is collected with an evaluation: anonymous
        "userName": "",
        "userProp": USER_PERSON,
        "satisfaction": str(e.level),
        "evalDetail": ",".join(d.get("reasons") or []),
        "writingEvaluation": str(d.get("comment") or ""),
        "assessTime": _time(e.at, cfg),
        "assessNumber": FIRST_ASSESSMENT,
        "appStatus": "1",
        "promiseTime": PROMISE_INSTANT,
        "acceptDate": _time(d.get("served_at"), cfg),
        "dataSource": review.data_source,
    }


def encode_form(fields: dict[str, str]) -> bytes:
    return urlencode(fields, encoding="utf-8").encode("ascii")
