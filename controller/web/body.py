"""Request bodies: a small declared schema per route, used to validate and to document.

One declaration drives both the check and the OpenAPI document, so they cannot drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controller.web.errors import ApiError


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # "string", "integer" or "array" (of strings)
    required: bool = False
    description: str = ""
    max_length: int = 200
    enum: tuple[str, ...] | None = None


Schema = dict[str, Field]


def json_schema(schema: Schema) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, f in schema.items():
        prop: dict[str, Any] = {"type": f.kind, "description": f.description}
        if f.kind == "array":
            prop["items"] = {"type": "string"}
        if f.kind == "string":
            prop["maxLength"] = f.max_length
        if f.enum:
            prop["enum"] = list(f.enum)
        props[name] = prop
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "required": [n for n, f in schema.items() if f.required],
    }


def parse(raw: bytes, schema: Schema) -> dict[str, Any]:
    """Decode and check a JSON object body; unknown fields are refused, not ignored."""
    if not raw.strip():
        body: Any = {}
    else:
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "bad_json", "the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    for name in body:
        if name not in schema:
            known = ", ".join(schema) or "none"
            raise ApiError(400, "unknown_field", f"unknown field {name!r} (known: {known})")
    for name, f in schema.items():
        value = body.get(name)
        if value is None:
            if f.required:
                raise ApiError(400, "missing_field", f"field {name!r} is required")
            body[name] = None
            continue
        if f.kind == "string":
            if not isinstance(value, str):
                raise ApiError(400, "bad_field", f"field {name!r} must be a string")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: JSON allows it, text does not
                raise ApiError(400, "bad_field", f"field {name!r} is not valid text") from None
            if len(value) > f.max_length:
                raise ApiError(400, "bad_field",
                               f"field {name!r} has at most {f.max_length} characters")
            if f.enum and value not in f.enum:
                raise ApiError(400, "bad_field",
                               f"field {name!r} must be one of {', '.join(f.enum)}")
        elif f.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApiError(400, "bad_field", f"field {name!r} must be an integer")
        elif f.kind == "array":
            if not isinstance(value, list) or len(value) > 20:
                raise ApiError(400, "bad_field", f"field {name!r} must be a list (at most 20)")
    return body
