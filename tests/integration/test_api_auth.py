"""API over real HTTP: the 401/403 matrix.

No token, a malformed Authorization header or an unknown token: 401 on every protected
route (with `WWW-Authenticate: Bearer`). For each protected route and each role (kiosk,
the clerk of window 1, the clerk of window 2, the pad of window 1, supervisor,
admin) the expected allow or
403; a refused request changes nothing. Public routes need no token. A token created
while the daemon runs works at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from controller.store.tokens import create_token
from controller.web.api import routes
from tests.conftest import Api

WINDOW_ACTIONS: dict[str, dict[str, Any] | None] = {
    "open": None,
    "close": None,
    "pause": {"reason": "午休"},
    "resume": None,
    "call-next": None,
    "recall": None,
    "no-show": None,
    "complete": {"case_no": "1"},
    "transfer": {"to_category": "B", "reason": "x"},
    "suspend": None,
    "call-back": {"ticket_id": "nope"},
}

ALL = frozenset({"kiosk", "clerk1", "clerk2", "pad1", "supervisor", "admin"})
ROLE_OF = {"kiosk": "kiosk", "clerk1": "clerk", "clerk2": "clerk", "pad1": "pad",
           "supervisor": "supervisor", "admin": "admin"}
CLERK_WINDOW = {"clerk1": 1, "clerk2": 2}
Case = tuple[str, str, Any, frozenset[str]]


def protected_routes(ticket_id: str) -> list[Case]:
    """(method, path, JSON body, the callers allowed) for every protected route of the
    route table, each window route on window 1 (clerk 1's), 2 (clerk 2's) and 5."""
    cases: list[Case] = []
    for route in routes():
        if route.roles is None:
            continue
        roles = {r.value for r in route.roles}
        path = route.path.replace("{ticket_id}", ticket_id)
        # Other ids name nothing that exists: the roles are checked before the lookup.
        path = re.sub(r"\{(?!number\})(\w+)\}", r"no-such-\1", path)
        if route.window_scoped:
            action = route.path.rsplit("/", 1)[-1]
            for window in (1, 2, 5):
                allowed = {who for who in ALL if ROLE_OF[who] in roles
                           and CLERK_WINDOW.get(who, window) == window}
                cases.append((route.method, path.replace("{number}", str(window)),
                              WINDOW_ACTIONS[action], frozenset(allowed)))
        else:
            body = {"category": "H"} if route.path == "/api/tickets" else None
            allowed = {who for who in ALL if ROLE_OF[who] in roles}
            cases.append((route.method, path, body, frozenset(allowed)))
            if route.path == "/api/events":
                cases.append(("GET", "/api/events?after=0&limit=5", None, frozenset(allowed)))
    return cases


async def test_the_matrix_holds_the_documented_roles(hall: Api) -> None:
    """The table itself: what the issue asks of each role."""
    by_route = {(m, p): allowed for m, p, _, allowed in protected_routes("T")}
    assert by_route[("POST", "/api/tickets")] == {"kiosk", "supervisor", "admin"}
    assert by_route[("GET", "/api/tickets/T")] == ALL
    assert by_route[("GET", "/api/events")] == {"supervisor", "admin"}
    for action in WINDOW_ACTIONS:
        assert by_route[("POST", f"/api/windows/1/{action}")] == {"clerk1", "supervisor",
                                                                  "admin"}
        assert by_route[("POST", f"/api/windows/2/{action}")] == {"clerk2", "supervisor",
                                                                  "admin"}
        assert by_route[("POST", f"/api/windows/5/{action}")] == {"supervisor", "admin"}


def callers(hall: Api) -> dict[str, str]:
    t = hall.tokens
    return {"kiosk": t.kiosk, "clerk1": t.clerk[1], "clerk2": t.clerk[2], "pad1": t.pad[1],
            "supervisor": t.supervisor, "admin": t.admin}


async def raw_status(hall: Api, method: str, path: str, headers: dict[str, str],
                     body: Any = None) -> tuple[int, Any, str | None]:
    async with hall.session.request(method, hall.base + path, json=body,
                                    headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers.get("WWW-Authenticate")


async def test_no_token_is_401_on_every_protected_route(hall: Api) -> None:
    ticket = await hall.issue("A")
    for method, path, body, _ in protected_routes(ticket["id"]) + [
        ("POST", "/api/windows/99/open", None, ALL),  # 401 before 404: say nothing
        ("GET", "/api/tickets/nope", None, ALL),
    ]:
        status, answer, challenge = await raw_status(hall, method, path, {}, body)
        assert (status, answer["error"]) == (401, "unauthorized"), (method, path, answer)
        assert challenge == "Bearer"
    _, health = await hall.call("GET", "/healthz")
    assert health["last_seq"] == 1  # only the ticket issued above


@pytest.mark.parametrize("header", [
    "Token {t}",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Bearer{t}",
    "{t}",
    "Bearer hc_unknown",
    "Bearer {t}x",
    "Bearer x{t}",
])
async def test_malformed_or_unknown_token_is_401(hall: Api, header: str) -> None:
    value = header.format(t=hall.tokens.admin)
    ticket = await hall.issue("A")
    for method, path, body in [("POST", "/api/tickets", {"category": "A"}),
                               ("GET", f"/api/tickets/{ticket['id']}", None),
                               ("GET", "/api/events", None),
                               ("POST", "/api/windows/1/open", None)]:
        status, answer, challenge = await raw_status(hall, method, path,
                                                     {"Authorization": value}, body)
        assert (status, answer["error"], challenge) == (401, "unauthorized", "Bearer"), path
    _, health = await hall.call("GET", "/healthz")
    assert health["last_seq"] == 1


async def test_scheme_is_case_insensitive(hall: Api) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        status, body, _ = await raw_status(
            hall, "POST", "/api/tickets",
            {"Authorization": f"{scheme} {hall.tokens.kiosk}"}, {"category": "A"})
        assert status == 201, body


async def test_role_matrix(hall: Api) -> None:
    ticket = await hall.issue("A")
    tokens = callers(hall)
    checked = 0
    for method, path, body, allowed in protected_routes(ticket["id"]):
        for who, token in tokens.items():
            status, answer = await hall.call(method, path, token, body)
            if who in allowed:
                assert status not in (401, 403), (who, method, path, answer)
                assert status < 500, (who, method, path, answer)
            else:
                assert status == 403, (who, method, path, answer)
                assert set(answer) == {"error", "detail"}
                assert answer["error"] == "forbidden", (who, path, answer)
            checked += 1
    assert checked == len(tokens) * len(protected_routes(ticket["id"])) >= 6 * (4 + 11 * 3)


async def test_refused_requests_change_nothing(hall: Api) -> None:
    t = hall.tokens
    denied: list[tuple[str, str, Any]] = [
        (t.clerk[1], "/api/tickets", {"category": "A"}),
        (t.kiosk, "/api/windows/1/open", None),
        (t.clerk[1], "/api/windows/2/open", None),
        (t.clerk[2], "/api/windows/1/open", None),
    ]
    for token, path, body in denied:
        status, answer = await hall.call("POST", path, token, body)
        assert (status, answer["error"]) == (403, "forbidden"), path
    _, health = await hall.call("GET", "/healthz")
    assert health["last_seq"] == 0
    _, windows = await hall.call("GET", "/api/windows")
    assert all(w["state"] == "closed" for w in windows["windows"])


async def test_clerk_runs_its_own_window_only(hall: Api) -> None:
    t = hall.tokens
    await hall.issue("A")
    status, body = await hall.window(1, "open", token=t.clerk[1])
    assert status == 200
    status, body = await hall.window(1, "call-next", token=t.clerk[1])
    assert (status, body["ticket"]["number"]) == (200, "A001")
    status, body = await hall.window(1, "complete", token=t.clerk[2])
    assert (status, body["error"]) == (403, "forbidden")
    assert "window 2" in body["detail"]
    status, body = await hall.window(1, "complete", token=t.clerk[1])
    assert (status, body["ticket"]["status"]) == (200, "completed")
    status, body = await hall.window(2, "open", token=t.clerk[1])
    assert (status, body["error"]) == (403, "forbidden")
    # a clerk may read a ticket but not the log
    status, body = await hall.call("GET", "/api/events", t.clerk[1])
    assert (status, body["error"]) == (403, "forbidden")


async def test_kiosk_issues_but_operates_nothing(hall: Api) -> None:
    t = hall.tokens
    ticket = await hall.issue("A")
    status, body = await hall.call("GET", f"/api/tickets/{ticket['id']}", t.kiosk)
    assert (status, body["number"]) == (200, "A001")
    for action, body_ in WINDOW_ACTIONS.items():
        status, body = await hall.window(1, action, body_, token=t.kiosk)
        assert (status, body["error"]) == (403, "forbidden"), action
    status, body = await hall.call("GET", "/api/events", t.kiosk)
    assert (status, body["error"]) == (403, "forbidden")


async def test_supervisor_and_admin_do_everything(hall: Api) -> None:
    t = hall.tokens
    for token, window in ((t.supervisor, 5), (t.admin, 6)):
        status, body = await hall.call("POST", "/api/tickets", token, {"category": "B"})
        assert status == 201
        status, body = await hall.window(window, "open", token=token)
        assert status == 200
        status, body = await hall.window(window, "call-next", token=token)
        assert (status, body["ticket"]["category"]) == (200, "B")
        status, body = await hall.call("GET", "/api/events", token)
        assert status == 200 and len(body["events"]) == body["last_seq"]


PUBLIC = ["/api/queue", "/api/windows", "/healthz", "/api/openapi.json"]


def test_public_routes_are_those_of_the_issue() -> None:
    public = {r.path for r in routes() if r.roles is None}
    assert {"/api/queue", "/api/windows", "/healthz"} <= public
    assert "/api/events" not in public and "/api/tickets" not in public


async def test_public_routes_need_no_token(hall: Api) -> None:
    paths = sorted(set(PUBLIC) | {r.path for r in routes() if r.roles is None})
    for path in paths:
        # a path parameter names nothing here: 404 is fine, a demand for a token is not
        concrete = re.sub(r"\{number\}", "1", path)
        concrete = re.sub(r"\{\w+\}", "no-such-thing", concrete)
        for headers in ({}, {"Authorization": "Bearer hc_not_a_token"}):  # a bad one is ignored
            async with hall.session.get(hall.base + concrete, headers=headers) as resp:
                expected = (200,) if concrete == path or "{number}" in path else (200, 404)
                assert resp.status in expected, (path, resp.status)


async def test_stream_needs_no_token(hall: Api) -> None:
    async with hall.session.ws_connect(hall.base + "/api/stream") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"


async def test_token_created_while_running_works_at_once(hall: Api, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    unknown = "hc_" + "x" * 43
    status, body = await hall.call("POST", "/api/tickets", unknown, {"category": "A"})
    assert status == 401
    _, kiosk = create_token(data_dir, "kiosk", None)
    status, body = await hall.call("POST", "/api/tickets", kiosk, {"category": "A"})
    assert (status, body["number"]) == (201, "A001")
    _, clerk = create_token(data_dir, "clerk", 9)
    status, body = await hall.window(9, "open", token=clerk)
    assert (status, body["window"]["state"]) == (200, "open")
    status, body = await hall.window(1, "open", token=clerk)
    assert (status, body["error"]) == (403, "forbidden")
    _, sup = create_token(data_dir, "supervisor", None)
    status, body = await hall.call("GET", "/api/events", sup)
    assert (status, body["last_seq"]) == (200, 2)
