"""API over real HTTP: the Idempotency-Key header on every POST.

A repeated request with the same key gets the identical status and body and changes
nothing (one ticket, not two; one call, not two), refusals included; the same key with a
different body or path is 422 idempotency_key_reused; keys are per token; malformed keys
are 400. Also: concurrent retries with one key (a kiosk retrying before its first answer
arrived), and that the stored request fingerprint does not expose an identity number.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from controller.store.tokens import create_token
from tests.conftest import Api

ID_NUMBER = "11010519491231002X"


async def post(hall: Api, path: str, token: str, key: str | None, body: Any = None,
               data: bytes | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await hall.call("POST", path, token, body, headers=headers, data=data)


async def last_seq(hall: Api) -> int:
    _, body = await hall.call("GET", "/healthz")
    return int(body["last_seq"])


async def issued_today(hall: Api, prefix: str) -> int:
    _, queue = await hall.call("GET", "/api/queue")
    return int(next(c for c in queue["categories"] if c["prefix"] == prefix)["issued_today"])


async def test_repeated_issue_returns_the_first_answer(hall: Api) -> None:
    token = hall.tokens.kiosk
    first = await post(hall, "/api/tickets", token, "kiosk-3-0001", {"category": "A"})
    assert first[0] == 201
    seq = await last_seq(hall)
    await hall.issue("A")  # someone else takes A002 meanwhile
    again = await post(hall, "/api/tickets", token, "kiosk-3-0001", {"category": "A"})
    assert again == first  # identical status and body, waiting_ahead as first answered
    assert await last_seq(hall) == seq + 1
    assert await issued_today(hall, "A") == 2
    third = await post(hall, "/api/tickets", token, "kiosk-3-0002", {"category": "A"})
    assert (third[0], third[1]["number"]) == (201, "A003")


async def test_double_pressed_call_next_calls_once(hall: Api) -> None:
    clerk = hall.tokens.clerk[1]
    a1 = await hall.issue("A")
    a2 = await hall.issue("A")
    await hall.window(1, "open", token=clerk)
    first = await post(hall, "/api/windows/1/call-next", clerk, "press-1")
    assert (first[0], first[1]["ticket"]["id"]) == (200, a1["id"])
    seq = await last_seq(hall)
    again = await post(hall, "/api/windows/1/call-next", clerk, "press-1")
    assert again == first
    assert await last_seq(hall) == seq
    status, t2 = await hall.call("GET", f"/api/tickets/{a2['id']}", clerk)
    assert t2["status"] == "waiting"
    status, t1 = await hall.call("GET", f"/api/tickets/{a1['id']}", clerk)
    assert t1["status"] == "called"  # not completed by a second call


async def test_same_key_different_body_is_422(hall: Api) -> None:
    token = hall.tokens.kiosk
    status, _ = await post(hall, "/api/tickets", token, "k", {"category": "A"})
    assert status == 201
    seq = await last_seq(hall)
    for body in ({"category": "B"}, {"category": "A", "channel": "web"}):
        status, answer = await post(hall, "/api/tickets", token, "k", body)
        assert status == 422
        assert answer == {"error": "idempotency_key_reused", "detail": answer["detail"]}
    # the fingerprint is of the bytes sent: the same JSON spelled differently is another body
    status, answer = await post(hall, "/api/tickets", token, "k",
                                data=b'{"category":  "A"}')
    assert (status, answer["error"]) == (422, "idempotency_key_reused")
    assert await last_seq(hall) == seq


async def test_same_key_on_another_path_is_422(hall: Api) -> None:
    sup = hall.tokens.supervisor
    await hall.window(1, "open")
    await hall.window(2, "open")
    status, _ = await post(hall, "/api/windows/1/call-next", sup, "k")
    assert status == 200
    seq = await last_seq(hall)
    status, answer = await post(hall, "/api/windows/2/call-next", sup, "k")
    assert (status, answer["error"]) == (422, "idempotency_key_reused")
    status, answer = await post(hall, "/api/tickets", sup, "k", {"category": "A"})
    assert (status, answer["error"]) == (422, "idempotency_key_reused")
    assert await last_seq(hall) == seq


async def test_keys_are_per_token(hall: Api, tmp_path: Path) -> None:
    _, kiosk2 = create_token(tmp_path / "data", "kiosk", None)
    body = {"category": "A"}
    s1, t1 = await post(hall, "/api/tickets", hall.tokens.kiosk, "shared", body)
    s2, t2 = await post(hall, "/api/tickets", kiosk2, "shared", body)
    s3, t3 = await post(hall, "/api/tickets", hall.tokens.supervisor, "shared",
                        {"category": "B"})
    assert (s1, s2, s3) == (201, 201, 201)
    assert (t1["number"], t2["number"], t3["number"]) == ("A001", "A002", "B001")
    # and each token still gets its own first answer back
    assert await post(hall, "/api/tickets", kiosk2, "shared", body) == (201, t2)
    assert await post(hall, "/api/tickets", hall.tokens.kiosk, "shared", body) == (201, t1)


async def test_a_refusal_is_replayed_too(hall: Api) -> None:
    sup = hall.tokens.supervisor
    await hall.issue("A")
    first = await post(hall, "/api/windows/1/call-next", sup, "r1")
    assert (first[0], first[1]["error"]) == (409, "window_closed")
    await hall.window(1, "open")
    assert await post(hall, "/api/windows/1/call-next", sup, "r1") == first
    status, body = await post(hall, "/api/windows/1/call-next", sup, "r2")
    assert (status, body["ticket"]["number"]) == (200, "A001")


async def test_an_issue_refusal_is_replayed_too(hall: Api) -> None:
    token = hall.tokens.kiosk
    body = {"category": "A", "identity": ID_NUMBER}
    await hall.issue("A", identity=ID_NUMBER)
    await hall.issue("A", identity=ID_NUMBER)
    first = await post(hall, "/api/tickets", token, "limit", body)
    assert (first[0], first[1]["error"]) == (409, "person_limit")
    assert await post(hall, "/api/tickets", token, "limit", body) == first


@pytest.mark.parametrize(("action", "body"), [
    ("open", None), ("pause", {"reason": "x"}), ("resume", None), ("recall", None),
    ("complete", {"case_no": "C1"}), ("transfer", {"to_category": "B", "reason": "x"}),
    ("suspend", None), ("no-show", None),
])
async def test_every_window_action_honours_the_key(hall: Api, action: str,
                                                   body: dict[str, Any] | None) -> None:
    sup = hall.tokens.supervisor
    await hall.issue("A")
    await hall.window(1, "open")
    await hall.window(1, "call-next")
    if action in ("open", "resume"):
        await hall.window(1, "pause", {"reason": "x"})
    first = await post(hall, f"/api/windows/1/{action}", sup, "once", body)
    assert first[0] == 200, first
    seq = await last_seq(hall)
    assert await post(hall, f"/api/windows/1/{action}", sup, "once", body) == first
    assert await last_seq(hall) == seq


async def test_bad_body_is_not_remembered(hall: Api) -> None:
    token = hall.tokens.kiosk
    status, body = await post(hall, "/api/tickets", token, "fix", {"category": 1})
    assert (status, body["error"]) == (400, "bad_field")
    status, body = await post(hall, "/api/tickets", token, "fix", {"category": "A"})
    assert (status, body["number"]) == (201, "A001")


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_malformed_key_is_400(hall: Api, key: str) -> None:
    status, body = await post(hall, "/api/tickets", hall.tokens.kiosk, key, {"category": "A"})
    assert (status, body["error"]) == (400, "bad_idempotency_key")
    assert await last_seq(hall) == 0


async def test_longest_key_is_fine(hall: Api) -> None:
    key = "k" * 200
    first = await post(hall, "/api/tickets", hall.tokens.kiosk, key, {"category": "A"})
    assert first[0] == 201
    assert await post(hall, "/api/tickets", hall.tokens.kiosk, key, {"category": "A"}) == first


async def test_key_on_a_get_is_ignored(hall: Api) -> None:
    status, _ = await hall.call("GET", "/api/queue", headers={"Idempotency-Key": ""})
    assert status == 200


async def test_concurrent_retries_with_one_key_issue_one_ticket(hall: Api) -> None:
    token = hall.tokens.kiosk

    async def retry(delay: float) -> tuple[int, Any]:
        await asyncio.sleep(delay)  # retries spread over a few commits
        return await post(hall, "/api/tickets", token, "flaky-wifi", {"category": "B"})

    answers = await asyncio.gather(*(retry(i * 0.001) for i in range(30)))
    assert await issued_today(hall, "B") == 1
    assert all(a == answers[0] for a in answers)


async def test_fingerprint_does_not_expose_the_identity(hall: Api, tmp_path: Path) -> None:
    raw = json.dumps({"category": "A", "identity": ID_NUMBER}).encode()
    status, _ = await post(hall, "/api/tickets", hall.tokens.kiosk, "id-1", data=raw)
    assert status == 201
    # what an attacker holding the database computes for each candidate ID number
    guess = hashlib.sha256(b"POST /api/tickets\n" + raw).hexdigest().encode()
    data_dir = tmp_path / "data"
    stored = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert guess not in stored
