"""Evaluations reach the review system (好差评) once in effect, through failures: the
reference cloud's HTTP side, over real HTTP, failing 30% of requests with 500s and
timeouts; a 4xx parks one record in dead-letter without blocking the others."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from tests.conftest import Api, make_tokens, running_hall
from tests.sync.conftest import SECRET, wait_until


@pytest.fixture
async def rated_hall(tmp_path: Path, demo_cfg: HallConfig,
                     review_cloud: tuple[CloudSim, str]) -> AsyncIterator[Api]:
    _, base = review_cloud
    secret_file = tmp_path / "review.secret"
    secret_file.write_bytes(SECRET + b"\n")
    cfg = dataclasses.replace(demo_cfg, cloud=dataclasses.replace(
        demo_cfg.cloud, evaluation_url=base + "/evaluations", secret_file=secret_file,
        evaluation_timeout_s=0.5))
    data_dir = tmp_path / "data"
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        yield api


async def serve_and_rate(api: Api, count: int, level: int = 5, first: int = 0
                         ) -> list[dict[str, object]]:
    """Window 13 (综合咨询, G) serves `count` citizens; each service is rated by SMS
    (entered by the supervisor) against its case number."""
    await api.window(13, "open")
    rated = []
    for i in range(first, first + count):
        ticket = await api.issue("G")
        status, body = await api.window(13, "call-next")
        assert body["ticket"]["id"] == ticket["id"]
        case_no = f"3301002026112700{i:02d}"
        status, body = await api.window(13, "complete", {"case_no": case_no,
                                                         "item_code": "330100-G-01"})
        assert status == 200
        reasons = ["E01"] if level <= 2 else []
        status, body = await api.call("POST", "/api/evaluations", api.tokens.supervisor,
                                      {"case_no": case_no, "level": level, "reasons": reasons,
                                       "channel": "sms"})
        assert status == 201, body
        rated.append(body)
    return rated


async def sync_link(api: Api, link: str) -> dict[str, object]:
    status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    assert status == 200
    return next(x for x in body["links"] if x["link"] == link)


@pytest.mark.timeout(600)
async def test_every_evaluation_once_through_30_percent_failures(
        rated_hall: Api, review_cloud: tuple[CloudSim, str]) -> None:
    """Usually 10-40 s. The deadlines are long because the backoff is the product's
    (0.5 s doubling to 60 s): a run of seven failures in a row, which 30 % failures give
    now and then, waits a minute by itself."""
    sim, _ = review_cloud
    sim.failure.error_rate = 0.15
    sim.failure.timeout_rate = 0.15
    rated = await serve_and_rate(rated_hall, 30)
    await wait_until(lambda: len(sim.evaluations) == 30, 300, "all 30 evaluations")
    assert sim.bad_signatures == 0
    assert sim.evaluation_requests > 30  # the failures were real and were retried
    assert set(sim.evaluations) == {str(r["id"]) for r in rated}
    # The cloud has all 30, but a report it stored after the hall's timeout counts as
    # delivered only when the hall's retry (maybe a backoff away) gets its 2xx.
    deadline = asyncio.get_running_loop().time() + 200
    while (link := await sync_link(rated_hall, "haochaping"))["backlog"] != 0:
        assert asyncio.get_running_loop().time() < deadline, link
        await asyncio.sleep(0.05)
    assert link["parked"] == 0
    assert len(sim.evaluations) == 30  # the retries were taken as duplicates
    # every mapped field, from its source
    first = sim.evaluations[str(rated[0]["id"])]
    assert first["projectNo"] == "330100202611270000"
    assert first["taskCode"] == "330100-G-01"
    assert first["satisfaction"] == "5"
    assert first["pf"] == "6"  # sms in the Zhejiang channel list
    assert first["deptCode"] == "11330100MB0000000X"
    assert first["areaCode"] == "330100"
    assert first["proManager"] == "13号窗口 综合咨询"
    assert first["proStatus"] == "3"
    assert first["dataSource"] == "133"
    assert len(first["assessTime"]) == len("2026-11-27 09:30:00")
    assert first["certkeyGOV"] == "" and first["userName"] == ""


async def test_a_refused_record_is_parked_and_does_not_block(
        rated_hall: Api, review_cloud: tuple[CloudSim, str]) -> None:
    sim, _ = review_cloud
    sim.failure.status = 400
    [refused] = await serve_and_rate(rated_hall, 1, level=2)
    await wait_until(lambda: sim.evaluation_requests >= 1, 10, "the refused attempt")
    for _ in range(100):
        status, body = await rated_hall.call("GET", "/api/sync/dead-letters",
                                             rated_hall.tokens.supervisor)
        if body["dead_letters"]:
            break
        await asyncio.sleep(0.05)
    assert [d["id"] for d in body["dead_letters"]] == [refused["id"]]
    assert body["dead_letters"][0]["report_status"] == 400
    # The review system's answer is for the supervisors (it may quote the report back,
    # a name included): in the dead letters, not on the stream or in what goes up.
    assert "told to refuse" in body["dead_letters"][0]["report_detail"]
    status, log = await rated_hall.call("GET", "/api/events", rated_hall.tokens.supervisor)
    [parked] = [e for e in log["events"] if e["type"] == "evaluation.report_parked"]
    assert parked["data"] == {"evaluation_id": refused["id"], "status": 400}
    sim.failure.status = None
    others = await serve_and_rate(rated_hall, 3, first=1)
    await wait_until(lambda: len(sim.evaluations) == 3, 20, "the others, past the parked one")
    assert refused["id"] not in sim.evaluations
    status, body = await rated_hall.call(
        "POST", f"/api/sync/dead-letters/{refused['id']}/retry", rated_hall.tokens.supervisor)
    assert status == 200 and body["report"] == "pending"
    await wait_until(lambda: refused["id"] in sim.evaluations, 20, "the retried record")
    assert sim.evaluations[str(refused["id"])]["evalDetail"] == "E01"
    assert sim.evaluations[str(refused["id"])]["satisfaction"] == "2"
    assert {str(o["id"]) for o in others} <= set(sim.evaluations)


async def test_a_2xx_whose_result_says_refused_is_parked_when_results_are_checked(
        tmp_path: Path, demo_cfg: HallConfig, review_cloud: tuple[CloudSim, str]) -> None:
    """Zhejiang-style answers carry `result`/`resultmsg` in a 200. With
    `[review].success_results` set, a 200 saying "fail" parks the record (visible, and a
    supervisor can retry it) instead of counting it delivered; the body of a real success
    still delivers. Unset (the default), any 2xx is a delivery."""
    sim, base = review_cloud
    secret_file = tmp_path / "review.secret"
    secret_file.write_bytes(SECRET + b"\n")
    cfg = dataclasses.replace(
        demo_cfg, review=dataclasses.replace(demo_cfg.review, success_results=("success",)),
        cloud=dataclasses.replace(demo_cfg.cloud, evaluation_url=base + "/evaluations",
                                  secret_file=secret_file, evaluation_timeout_s=2.0))
    data_dir = tmp_path / "data"
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        sim.failure.refuse_in_body = True
        [refused] = await serve_and_rate(api, 1)
        for _ in range(200):
            status, body = await api.call("GET", "/api/sync/dead-letters", api.tokens.supervisor)
            if body["dead_letters"]:
                break
            await asyncio.sleep(0.05)
        [parked] = body["dead_letters"]
        assert parked["id"] == refused["id"] and parked["report_status"] == 200
        assert "told to refuse" in parked["report_detail"], parked
        sim.failure.refuse_in_body = False
        status, _ = await api.call("POST", f"/api/sync/dead-letters/{refused['id']}/retry",
                                   api.tokens.supervisor)
        assert status == 200
        [delivered] = await serve_and_rate(api, 1, first=1)
        for _ in range(200):
            link = await sync_link(api, "haochaping")
            if link["backlog"] == 0 and link["parked"] == 0:
                break
            await asyncio.sleep(0.05)
        assert link["backlog"] == 0 and link["parked"] == 0 and link["delivered"] == 2


async def test_a_cases_follow_up_is_reported_as_the_second_assessment(
        rated_hall: Api, review_cloud: tuple[CloudSim, str]) -> None:
    """追评: the case rated at the window, then again by SMS: two reports of the same
    case, assessNumber 1 and 2; a third rating is refused."""
    sim, _ = review_cloud
    [first] = await serve_and_rate(rated_hall, 1)
    status, follow = await rated_hall.call(
        "POST", "/api/evaluations", rated_hall.tokens.supervisor,
        {"case_no": first["case_no"], "level": 3, "channel": "sms"})
    assert status == 201 and follow["assess_number"] == 2, follow
    await wait_until(lambda: {str(first["id"]), str(follow["id"])} <= set(sim.evaluations),
                     20, "both reports")
    one, two = sim.evaluations[str(first["id"])], sim.evaluations[str(follow["id"])]
    assert (one["assessNumber"], two["assessNumber"]) == ("1", "2")
    assert one["projectNo"] == two["projectNo"] == first["case_no"]
    assert two["satisfaction"] == "3" and two["pf"] == "6"
    status, body = await rated_hall.call(
        "POST", "/api/evaluations", rated_hall.tokens.supervisor,
        {"case_no": first["case_no"], "level": 5, "channel": "qr"})
    assert (status, body["error"]) == (409, "already_evaluated")
