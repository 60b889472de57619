"""The OpenAPI 3.1 document, generated from the route table so it always matches the code."""

from __future__ import annotations

import re
from typing import Any

from controller.web.api import Route
from controller.web.body import json_schema

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def _error_ref(text: str) -> dict[str, Any]:
    return {"description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(routes: list[Route], title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__ + "_" + route.path.rsplit("/", 1)[-1],
            "responses": {
                str(route.status): {"description": "OK", "content": {"application/json": {}}},
                "400": _error_ref("bad input"),
                "404": _error_ref("no such resource"),
            },
        }
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer" if name == "number" else "string"}}
            for name in re.findall(r"\{(\w+)\}", route.path)  # every path parameter
        ]
        if params:
            op["parameters"] = params
        if route.roles is not None:
            op["security"] = [{"bearer": []}]
            op["description"] = "Roles: " + ", ".join(sorted(r.value for r in route.roles)) + (
                "; a clerk token only for its own window." if route.window_scoped else "")
            op["responses"]["401"] = _error_ref("no or unknown token")
            op["responses"]["403"] = _error_ref("role or window not allowed")
        if route.method == "POST":
            op["parameters"] = op.get("parameters", []) + [{
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "maxLength": 200},
                "description": "a repeated request with the same key returns the first answer",
            }]
            op["requestBody"] = {"required": False, "content": {
                "application/json": {"schema": json_schema(route.body or {})}}}
            op["responses"]["409"] = _error_ref("not allowed in the current state")
            op["responses"]["503"] = _error_ref("the event log could not be written")
        paths.setdefault(route.path, {})[route.method.lower()] = op
    paths["/api/stream"] = {"get": {
        "summary": "WebSocket: each committed event as it happens; ?after=SEQ replays first "
                   "(that needs a supervisor's or an admin's token)",
        "responses": {"101": {"description": "switching to WebSocket"},
                      "400": _error_ref("after is not an integer"),
                      "401": _error_ref("?after= without a token"),
                      "403": _error_ref("?after= with a token of another role")},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
