"""Real-name review reports: a ticket taken with an ID number is reported with it as
`certkeyGOV`, the number held sealed (AES-GCM) only until the review system acknowledges
the report, or until the retention time for a ticket never rated; never in clear on disk,
never for a phone number, never when real-name reporting is off.

Over real HTTP: the hall's API, and the reference cloud's review endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.cloudsim.server import CloudSim
from controller.config import HallConfig
from controller.core.identity import check_digit
from controller.store.eventlog import DB_NAME
from controller.store.sealed import SealedIdentities
from controller.sync import review_uplink
from tests.conftest import Api, make_tokens, running_hall
from tests.sync.conftest import SECRET, wait_until
from tests.unit.test_protocol_schemas import check

pytestmark = pytest.mark.timeout(60)

ID_NUMBER = "33010219800101123" + check_digit("33010219800101123")
PHONE = "13800138000"


def hall_cfg(cfg: HallConfig, tmp_path: Path, base: str, **review: object) -> HallConfig:
    secret_file = tmp_path / "review.secret"
    secret_file.write_bytes(SECRET + b"\n")
    return dataclasses.replace(
        cfg, review=dataclasses.replace(cfg.review, **review),
        cloud=dataclasses.replace(cfg.cloud, evaluation_url=base + "/evaluations",
                                  secret_file=secret_file, evaluation_timeout_s=2.0))


def on_disk(data_dir: Path) -> bytes:
    """Every byte the hall's database holds, write-ahead log included."""
    return b"".join(p.read_bytes() for p in data_dir.glob(DB_NAME + "*"))


async def sealed_count(data_dir: Path) -> int:
    store = await SealedIdentities.open(data_dir)
    try:
        return await store.count()
    finally:
        await store.close()


async def served_and_rated(api: Api, identity: str, case_no: str,
                           **rating: object) -> dict[str, object]:
    status, ticket = await api.call("POST", "/api/tickets", api.tokens.kiosk,
                                    {"category": "G", "identity": identity})
    assert status == 201, ticket
    await api.window(13, "open")
    status, body = await api.window(13, "call-next")
    assert body["ticket"]["id"] == ticket["id"]
    status, _ = await api.window(13, "complete", {"case_no": case_no,
                                                  "item_code": "330100-G-01"})
    assert status == 200
    status, rated = await api.call("POST", "/api/evaluations", api.tokens.supervisor,
                                   {"case_no": case_no, "level": 4, "channel": "pad",
                                    **rating})
    assert status == 201, rated
    return {"ticket": ticket, "evaluation": rated}


async def review_link(api: Api) -> dict[str, object]:
    status, body = await api.call("GET", "/api/sync", api.tokens.supervisor)
    assert status == 200
    return next(x for x in body["links"] if x["link"] == "haochaping")  # type: ignore[no-any-return]


@pytest.fixture
async def real_name_hall(tmp_path: Path, demo_cfg: HallConfig,
                         review_cloud: tuple[CloudSim, str]) -> AsyncIterator[Api]:
    _, base = review_cloud
    data_dir = tmp_path / "data"
    async with running_hall(hall_cfg(demo_cfg, tmp_path, base), data_dir,
                            make_tokens(data_dir)) as api:
        yield api


async def test_the_id_number_is_reported_then_erased(
        real_name_hall: Api, review_cloud: tuple[CloudSim, str], tmp_path: Path) -> None:
    sim, _ = review_cloud
    data_dir = tmp_path / "data"
    sim.failure.status = 503  # hold the report back a moment: the number waits, sealed
    done = await served_and_rated(real_name_hall, f" {ID_NUMBER.lower()} ", "330100202611270001")
    assert await sealed_count(data_dir) == 1
    assert (await review_link(real_name_hall))["identities_held"] == 1
    assert ID_NUMBER.encode() not in on_disk(data_dir)
    sim.failure.status = None
    evaluation_id = str(done["evaluation"]["id"])  # type: ignore[index]
    await wait_until(lambda: evaluation_id in sim.evaluations, 30, "the report")
    report = sim.evaluations[evaluation_id]
    assert report["certkeyGOV"] == ID_NUMBER and report["userProp"] == "1"
    assert report["userName"] == ""  # a typed number comes without a name
    check(report, "review-report.json")  # docs/schemas says what a real-name report holds
    assert sim.bad_signatures == 0
    for _ in range(100):  # erased right after the acknowledgement
        if await sealed_count(data_dir) == 0:
            break
        await asyncio.sleep(0.05)
    assert await sealed_count(data_dir) == 0
    assert (await review_link(real_name_hall))["identities_held"] == 0
    assert ID_NUMBER.encode() not in on_disk(data_dir)
    # The ticket itself shows no number either.
    status, ticket = await real_name_hall.call(
        "GET", f"/api/tickets/{done['ticket']['id']}", real_name_hall.tokens.supervisor)  # type: ignore[index]
    assert status == 200 and ID_NUMBER not in str(ticket)


async def test_an_anonymous_rating_names_nobody_and_its_number_goes_at_once(
        real_name_hall: Api, review_cloud: tuple[CloudSim, str], tmp_path: Path) -> None:
    """匿名评价: the citizen chose not to be named. The report carries no ID number and no
    name although the ticket was taken with one, and the sealed number is erased when the
    report is built, not kept for a report that will never send it."""
    sim, _ = review_cloud
    sim.failure.status = 503  # the report is tried, refused for now, and waits
    done = await served_and_rated(real_name_hall, ID_NUMBER, "330100202611270003",
                                  anonymous=True)
    assert done["evaluation"]["anonymous"] is True  # type: ignore[index]
    await wait_until(lambda: sim.evaluation_requests >= 1, 30, "the first attempt")
    for _ in range(100):  # gone with the first attempt, before any acknowledgement
        if await sealed_count(tmp_path / "data") == 0:
            break
        await asyncio.sleep(0.05)
    assert await sealed_count(tmp_path / "data") == 0
    sim.failure.status = None
    evaluation_id = str(done["evaluation"]["id"])  # type: ignore[index]
    await wait_until(lambda: evaluation_id in sim.evaluations, 30, "the report")
    report = sim.evaluations[evaluation_id]
    assert (report["certkeyGOV"], report["userName"], report["userProp"]) == ("", "", "1")
    assert report["satisfaction"] == "4" and report["projectNo"] == "330100202611270003"
    check(report, "review-report.json")


async def test_a_phone_number_is_never_kept_or_sent(
        real_name_hall: Api, review_cloud: tuple[CloudSim, str], tmp_path: Path) -> None:
    sim, _ = review_cloud
    done = await served_and_rated(real_name_hall, PHONE, "330100202611270002")
    evaluation_id = str(done["evaluation"]["id"])  # type: ignore[index]
    await wait_until(lambda: evaluation_id in sim.evaluations, 30, "the report")
    assert sim.evaluations[evaluation_id]["certkeyGOV"] == ""
    assert await sealed_count(tmp_path / "data") == 0
    assert PHONE.encode() not in on_disk(tmp_path / "data")


async def test_real_name_off_keeps_nothing(
        tmp_path: Path, demo_cfg: HallConfig, review_cloud: tuple[CloudSim, str]) -> None:
    sim, base = review_cloud
    data_dir = tmp_path / "data"
    async with running_hall(hall_cfg(demo_cfg, tmp_path, base, real_name=False), data_dir,
                            make_tokens(data_dir)) as api:
        done = await served_and_rated(api, ID_NUMBER, "330100202611270003")
        evaluation_id = str(done["evaluation"]["id"])  # type: ignore[index]
        await wait_until(lambda: evaluation_id in sim.evaluations, 30, "the report")
    assert sim.evaluations[evaluation_id]["certkeyGOV"] == ""
    assert await sealed_count(data_dir) == 0


async def test_a_ticket_never_rated_has_its_number_erased_after_the_retention_time(
        tmp_path: Path, demo_cfg: HallConfig, review_cloud: tuple[CloudSim, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = review_cloud
    monkeypatch.setattr(review_uplink, "SWEEP_S", 0.1)
    data_dir = tmp_path / "data"
    cfg = hall_cfg(demo_cfg, tmp_path, base, identity_retention_h=1 / 3600)  # one second
    async with running_hall(cfg, data_dir, make_tokens(data_dir)) as api:
        status, _ = await api.call("POST", "/api/tickets", api.tokens.kiosk,
                                   {"category": "A", "identity": ID_NUMBER})
        assert status == 201
        assert await sealed_count(data_dir) == 1
        for _ in range(100):
            if await sealed_count(data_dir) == 0:
                break
            await asyncio.sleep(0.05)
        assert await sealed_count(data_dir) == 0


async def test_a_check_in_by_id_number_is_sealed_too(
        real_name_hall: Api, demo_cfg: HallConfig, tmp_path: Path) -> None:
    from tests.conftest import slot_holding_now
    from tests.sync.test_appointments_api import book, check_in

    await book(real_name_hall, ID_NUMBER, slot_holding_now(demo_cfg))
    status, answer = await check_in(real_name_hall, identity=ID_NUMBER)
    assert status == 201, answer
    store = await SealedIdentities.open(tmp_path / "data")
    try:
        held = await store.unseal(answer["ticket"]["id"])
        assert held is not None and (held.number, held.name) == (ID_NUMBER, None)
    finally:
        await store.close()
    assert ID_NUMBER.encode() not in on_disk(tmp_path / "data")


async def test_a_replayed_ticket_request_does_not_seal_the_number_again(
        real_name_hall: Api, review_cloud: tuple[CloudSim, str], tmp_path: Path) -> None:
    """A kiosk that retries with its Idempotency-Key after the first answer was lost gets
    the same ticket; the number, reported and erased meanwhile, must stay erased."""
    sim, _ = review_cloud
    data_dir = tmp_path / "data"
    retry = {"Idempotency-Key": "kiosk-1-20261127-0001"}
    body = {"category": "G", "identity": ID_NUMBER}
    status, first = await real_name_hall.call("POST", "/api/tickets",
                                              real_name_hall.tokens.kiosk, body, retry)
    assert status == 201 and await sealed_count(data_dir) == 1
    await real_name_hall.window(13, "open")
    await real_name_hall.window(13, "call-next")
    await real_name_hall.window(13, "complete", {"case_no": "330100202611270009",
                                                 "item_code": "330100-G-01"})
    status, rated = await real_name_hall.call(
        "POST", "/api/evaluations", real_name_hall.tokens.supervisor,
        {"case_no": "330100202611270009", "level": 5, "channel": "pad"})
    assert status == 201, rated
    await wait_until(lambda: str(rated["id"]) in sim.evaluations, 30, "the report")
    for _ in range(100):
        if await sealed_count(data_dir) == 0:
            break
        await asyncio.sleep(0.05)
    assert await sealed_count(data_dir) == 0

    status, again = await real_name_hall.call("POST", "/api/tickets",
                                              real_name_hall.tokens.kiosk, body, retry)
    assert status == 201 and again["id"] == first["id"]
    assert await sealed_count(data_dir) == 0
    assert (await review_link(real_name_hall))["identities_held"] == 0


async def test_a_service_for_a_company_is_reported_with_its_credit_code(
        real_name_hall: Api, review_cloud: tuple[CloudSim, str], tmp_path: Path) -> None:
    """The agent took the ticket with their own ID number; the clerk completed it for the
    company they came for. The company is the report's user (userProp 2); the agent's
    number is not sent, and is erased with the acknowledgement all the same."""
    sim, _ = review_cloud
    data_dir = tmp_path / "data"
    api = real_name_hall
    status, ticket = await api.call("POST", "/api/tickets", api.tokens.kiosk,
                                    {"category": "G", "identity": ID_NUMBER})
    assert status == 201 and await sealed_count(data_dir) == 1
    await api.window(13, "open")
    await api.window(13, "call-next")
    status, body = await api.window(13, "complete", {"case_no": "330100202611270011",
                                                     "credit_code": "91330100716105852x"})
    assert status == 400 and body["error"] == "bad_credit_code", body
    status, body = await api.window(13, "complete", {"case_no": "330100202611270011",
                                                     "credit_code": "91330100716105852f"})
    assert status == 200 and body["ticket"]["credit_code"] == "91330100716105852F", body
    status, rated = await api.call("POST", "/api/evaluations", api.tokens.supervisor,
                                   {"case_no": "330100202611270011", "level": 5,
                                    "channel": "pad"})
    assert status == 201, rated
    await wait_until(lambda: str(rated["id"]) in sim.evaluations, 30, "the report")
    report = sim.evaluations[str(rated["id"])]
    assert (report["certkeyGOV"], report["userProp"]) == ("91330100716105852F", "2")
    check(report, "review-report.json")
    for _ in range(100):
        if await sealed_count(data_dir) == 0:
            break
        await asyncio.sleep(0.05)
    assert await sealed_count(data_dir) == 0
    assert ID_NUMBER.encode() not in on_disk(data_dir)
