"""API over real HTTP: the OpenAPI 3.1 document at /api/openapi.json.

It is served without a token, says 3.1, and lists every route of
`controller.web.api.routes()` with its method, security, request body schema and the
error responses the route can give; the schemas match what the server really enforces
(unknown fields refused, required fields required).
"""

from __future__ import annotations

import re
from typing import Any

from controller.web.api import routes
from controller.web.body import json_schema
from tests.conftest import Api


async def fetch(hall: Api) -> dict[str, Any]:
    status, doc = await hall.call("GET", "/api/openapi.json")
    assert status == 200
    assert isinstance(doc, dict)
    return doc


async def test_document_header(hall: Api) -> None:
    doc = await fetch(hall)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "hall-controller: 示范区政务服务中心"
    assert isinstance(doc["info"]["version"], str) and doc["info"]["version"]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                              "scheme": "bearer"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "detail"]


async def test_every_route_is_documented_with_its_method(hall: Api) -> None:
    doc = await fetch(hall)
    table = routes()
    paths = {(r.method, r.path) for r in table}
    assert {("POST", "/api/tickets"), ("GET", "/api/tickets/{ticket_id}"),
            ("GET", "/api/queue"), ("GET", "/api/windows"), ("GET", "/api/events"),
            ("GET", "/healthz")} <= paths
    assert {r.path.rsplit("/", 1)[-1] for r in table if r.window_scoped} == {
        "open", "close", "pause", "resume", "call-next", "recall", "no-show", "complete",
        "transfer", "suspend", "call-back"}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    expected = {(r.path, r.method.lower()) for r in table} | {("/api/stream", "get")}
    assert documented == expected
    op_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()
              if "operationId" in op]
    assert len(op_ids) == len(set(op_ids)) == len(table)
    for route in table:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["summary"] == route.summary
        responses = op["responses"]
        ok = str(route.status)
        assert ok in responses, route.path
        for param in re.findall(r"{(\w+)}", route.path):
            names = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            assert param in names, route.path
        if route.roles is None:
            assert "security" not in op, route.path
            assert "401" not in responses
        else:
            assert op["security"] == [{"bearer": []}], route.path
            assert {"401", "403"} <= set(responses), route.path
            for role in route.roles:
                assert role.value in op["description"]
        if route.method == "POST":
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema == json_schema(route.body or {})
            assert schema["additionalProperties"] is False
            assert {"400", "409"} <= set(responses)
            headers = [p["name"] for p in op["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"]
        for code, response in responses.items():
            if code.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error"


async def test_documented_bodies_match_the_server(hall: Api) -> None:
    doc = await fetch(hall)
    issue = doc["paths"]["/api/tickets"]["post"]["requestBody"]["content"]
    schema = issue["application/json"]["schema"]
    assert schema["required"] == []  # a category, or an item (事项) that names one
    assert set(schema["properties"]) == {"category", "item_code", "channel", "priority",
                                         "identity"}
    assert schema["properties"]["channel"]["enum"] == ["kiosk", "idcard", "sms",
                                                       "appointment", "web", "staff"]
    transfer = doc["paths"]["/api/windows/{number}/transfer"]["post"]
    t_schema = transfer["requestBody"]["content"]["application/json"]["schema"]
    assert t_schema["required"] == ["reason"]
    assert t_schema["properties"]["to_window"]["type"] == "integer"
    pause = doc["paths"]["/api/windows/{number}/pause"]["post"]
    assert pause["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "reason"]
    number = [p for p in pause["parameters"] if p["name"] == "number"][0]
    assert number == {"name": "number", "in": "path", "required": True,
                      "schema": {"type": "integer"}}
    assert "clerk" in pause["description"] and "own window" in pause["description"]
    # every documented POST body really refuses a field it does not declare
    for path, ops in doc["paths"].items():
        if "post" not in ops:
            continue
        concrete = re.sub(r"\{\w+\}", "x", path.replace("{number}", "1"))
        status, body = await hall.call("POST", concrete, hall.tokens.admin, {"zzz": 1})
        assert (status, body["error"]) == (400, "unknown_field"), path
