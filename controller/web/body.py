"""Request bodies: a small declared schema per route, used to validate and to document.

One declaration drives both the check and the OpenAPI document, so they cannot drift.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from controller.web.errors import ApiError

MAX_BODY = 64 * 1024
# Integers a JavaScript page reads exactly: a larger count or number is a mistake, and
# storing it would put a number in the log that no dashboard can show.
MAX_INTEGER = 2**53 - 1
# C0 and C1 control characters and DEL: a NUL or an ESC sequence in a pause reason would
# reach a window's LED screen, and a notice's the hall wall, as it was sent.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# keeps \t, \n and \r (a Windows line break, \r\n, is a line break too)
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # "string", "integer", "boolean" or "array" (of strings)
    required: bool = False
    description: str = ""
    max_length: int = 200
    enum: tuple[str, ...] | None = None
    multiline: bool = False  # free text of several lines: line breaks and tabs allowed


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


async def read_body(request: web.Request) -> bytes:
    """The body as sent, decoded here rather than by aiohttp (build_app turns its decoding
    off): a body that does not inflate, or an encoding the hall does not read, is then a
    JSON 4xx like any other bad input, not a plain-text error and a traceback in the log."""
    raw = await request.read()
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding in ("gzip", "x-gzip", "deflate"):
        return _inflate(raw, coding)
    raise ApiError(415, "unsupported_encoding",
                   f"Content-Encoding {coding[:40]!r} is not accepted: send the body "
                   "uncompressed, or with gzip or deflate")


def _inflate(raw: bytes, coding: str) -> bytes:
    """At most MAX_BODY bytes out, whatever goes in: a small bomb must not fill memory."""
    if not raw:
        return raw
    if coding == "deflate":  # with its zlib header, or (as some clients send it) raw
        wbits = zlib.MAX_WBITS if raw[0] & 0x0F == 8 else -zlib.MAX_WBITS
    else:
        wbits = 16 + zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(raw, MAX_BODY + 1)
    except zlib.error:
        raise ApiError(400, "bad_encoding",
                       f"the body is not {coding} data, as its Content-Encoding says") from None
    if len(out) > MAX_BODY or inflater.unconsumed_tail:
        raise ApiError(413, "body_too_large",
                       f"the body inflates to more than {MAX_BODY} bytes")
    if not inflater.eof or inflater.unused_data:
        raise ApiError(400, "bad_encoding",
                       f"the body is not one complete piece of {coding} data")
    return out


def check_text(name: str, value: str, multiline: bool = False) -> None:
    """Text a person will read on a screen: valid Unicode, no control characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON allows it, text does not
        raise ApiError(400, "bad_field", f"field {name!r} is not valid text") from None
    found = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(value)
    if found is not None:
        allowed = "printable text, line breaks and tabs" if multiline else "printable text"
        raise ApiError(400, "bad_field",
                       f"field {name!r} holds a control character (U+{ord(found.group()):04X} "
                       f"at character {found.start() + 1}): it takes {allowed} only")


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
        except ValueError:  # Python's guard against reading an integer of 4300+ digits
            raise ApiError(400, "bad_json",
                           "the body holds a number with too many digits") from None
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
            check_text(name, value, f.multiline)
            if len(value) > f.max_length:
                raise ApiError(400, "bad_field",
                               f"field {name!r} has at most {f.max_length} characters")
            if f.enum and value not in f.enum:
                raise ApiError(400, "bad_field",
                               f"field {name!r} must be one of {', '.join(f.enum)}")
        elif f.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApiError(400, "bad_field", f"field {name!r} must be an integer")
            if not -MAX_INTEGER <= value <= MAX_INTEGER:
                raise ApiError(400, "bad_field", f"field {name!r} is too large a number")
        elif f.kind == "boolean":
            if not isinstance(value, bool):
                raise ApiError(400, "bad_field", f"field {name!r} must be true or false")
        elif f.kind == "array":
            if not isinstance(value, list) or len(value) > 20:
                raise ApiError(400, "bad_field", f"field {name!r} must be a list (at most 20)")
            for item in value:
                if not isinstance(item, str):
                    raise ApiError(400, "bad_field", f"field {name!r} is a list of strings")
                check_text(name, item)
    return body
