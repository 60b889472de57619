"""The cloud protocol's JSON Schemas (docs/schemas/) against payloads the code really makes.

A small demo-hall scenario is run through `controller.core.engine.execute` (the writer's
own entry point) and through `DownlinkHandler` with a stand-in writer, so that every event
type, every command kind and every ack result is produced by the code itself. The events
are wrapped as `Envelope`s and encoded by `encode_batch`, and also stored in a real
`EventLog` and read back in their wire form (`read_wire_batches` + `encode_wire`, what
the uplink sends); commands come from the reference cloud's `push`, receipts from its event
handler; the review report from `report_fields`.

`jsonschema` is not installed in the project's environment, so a small validator for the
subset of JSON Schema 2020-12 the schemas use lives here. It refuses any keyword it does
not implement, so a schema can never silently claim more than is checked. `undocumented`
adds what `unevaluatedProperties: false` would: the schemas stay open for receivers
(fields are only ever added), but a field the code sends without documenting it fails
this test. So do an event type, a command kind or an ack reason missing from the docs.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from controller.cloudsim.server import CloudSim
from controller.config.loader import DEFAULT_CONFIG, load_config
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.clock import local
from controller.core.engine import Outcome, execute
from controller.core.identity import keyed_hash
from controller.core.state import HallState
from controller.store.eventlog import Envelope, EventLog
from controller.store.ids import new_id
from controller.sync.downlink import DownlinkHandler, Malformed
from controller.sync.protocol import PROTOCOL_VERSION, Topics, encode_batch, status_payload
from controller.sync.review_report import encode_form, report_fields
from controller.sync.review_uplink import signature

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = ("events-batch.json", "status.json", "command.json", "ack.json",
                "receipt.json", "review-report.json")

# ---- a validator for the subset of JSON Schema 2020-12 used in docs/schemas ----------

ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description",
                         "examples", "default"})
KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties", "enum",
                      "const", "items", "minItems", "$ref", "allOf", "anyOf", "if", "then",
                      "minimum", "maximum", "minLength", "maxLength", "pattern"})


class SchemaBug(Exception):
    """The schema uses something this validator does not implement."""


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise SchemaBug(f"unknown type {name!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 and true differ, 1 and 1.0 do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise SchemaBug(f"only local $ref is supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None,
             path: str = "$") -> list[str]:
    """The errors of `instance` against `schema`, as 'path: message' strings."""
    root = root if root is not None else schema
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise SchemaBug(f"{path}: unsupported keyword(s) {sorted(unknown)}")
    errors: list[str] = []

    if "$ref" in schema:
        errors += validate(instance, _resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, n) for n in names):
            return errors + [f"{path}: {instance!r} is not of type {schema['type']}"]
    if "const" in schema and not _equal(instance, schema["const"]):
        errors.append(f"{path}: {instance!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_equal(instance, x) for x in schema["enum"]):
        errors.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{path}: {instance!r} does not match {schema['pattern']!r}")
    if _is_type(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: {instance} < {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: {instance} > {schema['maximum']}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors += validate(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(instance, dict):
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{path}: {name!r} is required")
        props = schema.get("properties", {})
        for name, value in instance.items():
            if name in props:
                errors += validate(value, props[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: {name!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(value, schema["additionalProperties"], root, f"{path}.{name}")
    for sub in schema.get("allOf", []):
        errors += validate(instance, sub, root, path)
    if "anyOf" in schema:
        if all(validate(instance, sub, root, path) for sub in schema["anyOf"]):
            errors.append(f"{path}: {instance!r} matches none of anyOf")
    if "if" in schema and not validate(instance, schema["if"], root, path):
        errors += validate(instance, schema.get("then", {}), root, path)
    return errors


def _applicable(instance: Any, schema: dict[str, Any], root: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """Every subschema that applies at this instance location: itself, its $ref, its
    allOf, the anyOf branches it matches, and `then` when `if` matches."""
    found = [schema]
    if "$ref" in schema:
        found += _applicable(instance, _resolve(root, schema["$ref"]), root)
    for sub in schema.get("allOf", []):
        found += _applicable(instance, sub, root)
    for sub in schema.get("anyOf", []):
        if not validate(instance, sub, root):
            found += _applicable(instance, sub, root)
    if "if" in schema and not validate(instance, schema["if"], root):
        found += _applicable(instance, schema.get("then", {}), root)
    return found


def undocumented(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None,
                 path: str = "$") -> list[str]:
    """Object members that no applicable schema declares (like unevaluatedProperties:
    false), for objects whose schemas list their properties. The schemas stay open for
    receivers; this is how the test keeps them complete."""
    root = root if root is not None else schema
    subs = _applicable(instance, schema, root)
    errors: list[str] = []
    if isinstance(instance, dict):
        lists_properties = any("properties" in s for s in subs)
        for name, value in instance.items():
            inner = [s["properties"][name] for s in subs if name in s.get("properties", {})]
            if not inner:
                inner = [s["additionalProperties"] for s in subs
                         if isinstance(s.get("additionalProperties"), dict)]
                if not inner and lists_properties:
                    errors.append(f"{path}: {name!r} is not documented in the schema")
            for sub in inner:
                errors += undocumented(value, sub, root, f"{path}.{name}")
    elif isinstance(instance, list):
        for sub in (s["items"] for s in subs if "items" in s):
            for i, item in enumerate(instance):
                errors += undocumented(item, sub, root, f"{path}[{i}]")
    return errors


def strict_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    return validate(instance, schema) + undocumented(instance, schema)


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def check(instance: Any, name: str) -> None:
    """Valid, and every field the code sent is documented."""
    errors = strict_errors(instance, load(name))
    assert not errors, f"{name}:\n" + "\n".join(errors[:20])


# ---- the scenario: the demo hall, driven through the engine and the downlink ---------

CFG: HallConfig = load_config(DEFAULT_CONFIG)
KEY = b"k" * 32
PHONE = "13800138000"
ID_NUMBER = "11010519491231002X"  # the GB 11643 example number: check digit valid
T0 = 1709514000.0  # 2024-03-04 09:00 Asia/Shanghai, a Monday


@dataclass
class Hall:
    """The writer's part without a disk: execute, then wrap each event as the log does."""

    cfg: HallConfig
    now: float
    state: HallState = field(default_factory=HallState)
    envelopes: list[Envelope] = field(default_factory=list)

    def run(self, cmd: c.Command, actor: str | None = "test") -> Outcome:
        outcome = execute(self.state, self.cfg, cmd, self.now)
        for e in outcome.events:
            # As the log stores it (JSON) and reads it back.
            data = json.loads(json.dumps(e.data, ensure_ascii=False))
            self.envelopes.append(Envelope(len(self.envelopes) + 1, new_id(),
                                           self.now, e.type, data, actor))
        self.state.last_seq = len(self.envelopes)
        return outcome

    def ok(self, cmd: c.Command) -> Outcome:
        outcome = self.run(cmd)
        assert outcome.refusal is None, outcome.refusal.code if outcome.refusal else None
        return outcome

    def at(self, minutes: float) -> Hall:
        self.now = T0 + minutes * 60.0
        return self


class FakeWriter:
    """What DownlinkHandler needs of the writer: `submit` runs the command and renders."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall

    @property
    def state(self) -> HallState:
        return self.hall.state

    async def submit(self, command: c.Command, render: Any, actor: str | None = None,
                     idem: Any = None) -> tuple[int, dict[str, Any]]:
        outcome = self.hall.run(command, actor)
        return render(self.hall.state, outcome)  # type: ignore[no-any-return]


class FakeClient:
    """An MQTT client that records what the reference cloud publishes."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, **_: Any) -> None:
        self.published.append((topic, payload))


@dataclass
class Scenario:
    hall: Hall
    commands: list[dict[str, Any]]
    acks: list[dict[str, Any]]
    batch: bytes
    sim: CloudSim
    receipts: list[dict[str, Any]]


def _ms(minutes: float) -> int:
    return int((T0 + minutes * 60.0) * 1000)


async def _drive() -> Scenario:
    hall = Hall(CFG, T0)
    handler = DownlinkHandler(CFG, FakeWriter(hall), KEY, clock=lambda: hall.now)  # type: ignore[arg-type]
    sim = CloudSim(None, None)
    client = FakeClient()
    sim._client = client  # type: ignore[assignment]
    sim._connected.set()
    acks: list[dict[str, Any]] = []
    commands: list[dict[str, Any]] = []

    async def send(ack: dict[str, Any]) -> None:
        # As MqttSync sends it: JSON on the acks topic; read back as the cloud would.
        acks.append(json.loads(json.dumps(ack, ensure_ascii=False).encode()))

    async def push(kind: str, body: dict[str, Any], command_id: str | None = None,
                   issued_at_ms: int | None = None) -> dict[str, Any]:
        """A command as the reference cloud publishes it, handed to the hall."""
        await sim.push(CFG.hall_id, kind, body, command_id,
                       issued_at_ms=issued_at_ms if issued_at_ms is not None else _ms(0))
        _, payload = client.published[-1]
        commands.append(json.loads(payload))
        await handler.handle(payload, send)
        return acks[-1]

    async def raw(payload: bytes) -> dict[str, Any]:
        await handler.handle(payload, send)
        return acks[-1]

    ident = keyed_hash(KEY, ID_NUMBER)
    h = hall
    # Windows, tickets and the window actions.
    h.at(0).ok(c.OpenWindow(1))
    h.ok(c.OpenWindow(4))
    a1, a2, a3 = (new_id() for _ in range(3))
    h.at(1).ok(c.IssueTicket(a1, "A", "kiosk"))
    h.ok(c.IssueTicket(a2, "A", "staff", "green", ident))
    h.ok(c.IssueTicket(a3, "A", "idcard", None, ident))
    h.at(2).ok(c.CallNext(1))  # a2, by priority
    h.ok(c.Recall(1))
    h.at(10).ok(c.Complete(1, "330100202403040001", "11330100MB0000000X-001",
                           " 91330100716105852f "))  # a company's, as typed
    h.ok(c.CallNext(1))  # a1, by ratio
    h.at(12).ok(c.NoShow(1))
    h.ok(c.CallNext(1))  # a3
    h.ok(c.Suspend(1))
    h.at(13).ok(c.CallBack(1, a3))
    h.ok(c.Transfer(1, "需补充社保材料", to_category="B"))
    h.ok(c.CallNext(4))  # a3, at the front of B
    h.at(14).ok(c.Suspend(4))
    h.at(30).ok(c.Tick())  # the suspension timed out: a3 returns
    h.ok(c.CallNext(4))
    h.at(35).ok(c.Complete(4))  # no case number
    h.ok(c.PauseWindow(1, "午休"))
    h.ok(c.ResumeWindow(1))
    h.ok(c.CloseWindow(1))

    # Cloud commands: appointments, an SMS ticket, notices, and every kind of refusal.
    h.at(40)
    await push("appointment.create", {
        "appointment_id": "bk-1", "category": "A", "slot_start": _ms(60), "slot_end": _ms(90),
        "identity": ID_NUMBER}, "cmd-apt-1")
    await push("appointment.create", {
        "appointment_id": "bk-2", "category": "B",
        "slot_start": "2024-03-04T10:00:00+08:00", "slot_end": "2024-03-04T10:30:00+08:00",
        "identity": PHONE}, "cmd-apt-2")
    await push("appointment.create", {
        "appointment_id": "bk-3", "category": "C", "slot_start": _ms(45), "slot_end": _ms(50),
        "identity": PHONE}, "cmd-apt-3")
    await push("appointment.cancel", {"appointment_id": "bk-2", "reason": "行程有变"},
               "cmd-cancel-2")
    sms = await push("sms_ticket", {"category": "B", "phone": PHONE}, "cmd-sms-1")
    assert sms["result"] == "applied" and sms["ticket"]["number"].startswith("B")
    duplicate = await push("sms_ticket", {"category": "B", "phone": PHONE}, "cmd-sms-1")
    assert duplicate["result"] == "duplicate" and duplicate["first_result"] == "applied"
    await push("notice.publish", {"notice_id": "n-1", "text": "今日下午社保窗口系统升级",
                                  "until": "2024-03-04T17:30:00+08:00"}, "cmd-notice-1")
    await push("notice.withdraw", {"notice_id": "n-1"}, "cmd-notice-2")
    refused = await push("notice.withdraw", {"notice_id": "n-404"}, "cmd-notice-3")
    assert (refused["result"], refused["reason"]) == ("rejected", "notice_not_found")
    old = await push("notice.publish", {"notice_id": "n-2", "text": "旧公告"}, "cmd-old",
                     issued_at_ms=_ms(-8 * 24 * 60))
    assert (old["result"], old["reason"]) == ("rejected", "expired")
    again = await push("notice.publish", {"notice_id": "n-2", "text": "旧公告"}, "cmd-old")
    assert (again["result"], again["first_result"], again["reason"]) == (
        "duplicate", "rejected", "expired")
    malformed = {
        "bad_json": await raw(b"{not json"),
        "missing_id": await raw(b'{"v":1,"kind":"sms_ticket","body":{}}'),
        "bad_version": await raw(b'{"v":2,"id":"x-1","kind":"sms_ticket","body":{}}'),
        "bad_command": await raw(b'{"v":1,"id":"x-2","kind":"sms_ticket"}'),
        "unknown_kind": await raw(b'{"v":1,"id":"x-3","kind":"catalog.delete","body":{}}'),
        "missing_field": await raw(b'{"v":1,"id":"x-4","kind":"sms_ticket","body":{"category":"A"}}'),
        "bad_identity": await raw(
            b'{"v":1,"id":"x-5","kind":"sms_ticket","body":{"category":"A","phone":"12345"}}'),
    }
    for reason, ack in malformed.items():
        assert (ack["result"], ack["reason"]) == ("rejected", reason), ack
    assert malformed["bad_json"]["command_id"] is None

    # Check-in inside the slot's window; the other booking becomes a no-show.
    h.at(55).ok(c.CheckIn(new_id(), ident))
    h.at(80).ok(c.Tick())  # bk-3's window (ends 50 + 15 min) is over

    # Evaluations and their reports.
    bad, good = new_id(), new_id()
    h.at(81).ok(c.Evaluate(bad, 2, "pad", ticket_id=a2, reasons=("E01", "E02"),
                           comment="等了一个小时，电话 138 0013 8000 没人接"))
    h.ok(c.RecordReport(bad, True, 200))
    h.ok(c.Evaluate(good, 5, "qr", ticket_id=a3))
    h.ok(c.RecordReport(good, False, 400, '{"result":"fail","resultmsg":"deptCode"}'))
    h.ok(c.RetryReport(good))

    # The next business day: whatever still waits, or is still at a window, expires.
    h.ok(c.IssueTicket(new_id(), "G", "web"))
    h.ok(c.CallNext(4))  # the SMS ticket, left open at window 4 overnight
    h.now = T0 + 24 * 3600.0
    h.ok(c.Tick())

    # Items, cases, follow-ups and complaints (controller/core/catalog.py, cases.py,
    # followups.py, complaints.py), on the next day.
    from controller.core import cases as cs
    from controller.core import complaints as cp
    from controller.core import followups as fu
    from controller.core.catalog import IssueByItem

    await push("catalog.update", {"version": 2, "remove": ["330100-CRJ-004"], "items": [
        {"code": "330100-CRJ-009", "name": "出入境记录查询", "parent": "330100-CRJ",
         "case_type": "instant", "ways": ["马上办"],
         "materials": [{"name": "居民身份证", "originals": 1}]}]}, "cmd-catalog-2")
    stale = await push("catalog.update", {"version": 1, "items": []}, "cmd-catalog-1")
    assert (stale["result"], stale["reason"]) == ("rejected", "stale_catalog")
    h.ok(fu.FollowUpStep(bad, "verify", "调取录像，情况属实", "token-sup", "supervisor"))
    h.ok(IssueByItem(new_id(), "330100-BDC-01-002", "kiosk"))
    h.ok(c.OpenWindow(2))
    h.ok(c.CallNext(2))
    case_no = "330100202403050001"
    h.ok(cs.AcceptCase(case_no, window=2, missing=("完税凭证",), actor="token-2", role="clerk"))
    h.ok(c.Complete(2, case_no))
    h.ok(cs.CaseAction(case_no, "supply", ("完税凭证",)))
    for action in ("circulate", "approve", "circulate", "ready"):
        h.ok(cs.CaseAction(case_no, action))
    h.ok(cs.TakePickupTicket(new_id(), case_no))
    h.ok(cs.CaseAction(case_no, "pick_up", note="本人领取"))
    h.ok(cs.AcceptCase("330100202403050002", item_code="330100-SS-02", missing=("章程修正案",)))
    h.ok(cp.RegisterComplaint("cp-1", "phone", "补交材料后仍要求再跑一次", case_no=case_no))
    h.ok(cp.RegisterComplaint("cp-2", "letter", "窗口午休无人"))
    for action, text in (("assign", "督查科"), ("resolve", "已致歉并当场办结"), ("close", "回访满意")):
        h.ok(cp.ComplaintAction("cp-1", action, text))
    h.now = T0 + 30 * 24 * 3600.0  # past every deadline: the supervision flags
    h.ok(c.Tick())

    # Types registered by core modules of their own (controller/core/alerts.py, flow.py,
    # voids.py), on that later day: a rush of arrivals with no window open raises the
    # demo hall's `arrivals` alert ([flow] min_arrivals), a supervisor acknowledges and
    # resolves it, it clears once the rush is over; a printer fails and its ticket is
    # voided; a people counter reports.
    from controller.core import alerts as al
    from controller.core.flow import CounterReading
    from controller.core.voids import VoidTicket

    rush = [new_id() for _ in range(CFG.flow.min_arrivals + 1)]
    for i, ticket_id in enumerate(rush):
        h.now = T0 + 30 * 24 * 3600.0 + 60.0 * (i + 1)
        h.ok(c.IssueTicket(ticket_id, "A", "kiosk"))
    raised = h.ok(c.Tick()).events
    alert_id = next(e.data["alert_id"] for e in raised if e.type == al.ALERT_RAISED)
    h.ok(VoidTicket(rush[-1], "print failed: paper out"))
    h.ok(CounterReading("door-1", entered=12, left=3))
    h.ok(CounterReading("door-2", in_total=1045, out_total=998))
    h.ok(al.AcknowledgeAlert(alert_id, "token-sup", "已通知值班长"))
    h.ok(al.ResolveAlert(alert_id, "token-sup", "已开放窗口"))
    h.now += CFG.flow.arrival_window_min * 60.0 + 60.0
    cleared = h.ok(c.Tick()).events
    assert [e.type for e in cleared if e.type.startswith("alert.")] == [al.ALERT_CLEARED]

    batch = encode_batch(CFG.hall_id, h.envelopes)
    topic = Topics(CFG.cloud.topic_prefix, CFG.hall_id)
    await sim._on_message(client, topic.events, batch)  # type: ignore[arg-type]
    receipts = [json.loads(p) for t, p in client.published if t == topic.receipts]
    for ack in acks:
        await sim._on_message(client, topic.acks, json.dumps(ack).encode())  # type: ignore[arg-type]
    return Scenario(hall, commands, acks, batch, sim, receipts)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return asyncio.run(_drive())


# ---- the schemas themselves ----------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_files_are_draft_2020_12_and_use_only_checked_keywords(name: str) -> None:
    schema = load(name)
    assert schema["$schema"] == DRAFT
    assert schema.get("title") and schema.get("$id")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                _resolve(schema, node["$ref"])  # resolvable
            for key, value in node.items():
                if key in ("properties", "$defs"):
                    for sub_name, sub in value.items():
                        walk(sub, f"{path}.{key}.{sub_name}")
                elif key in ("enum", "const", "required", "examples", "default"):
                    continue
                elif key not in KEYWORDS | ANNOTATIONS:
                    raise SchemaBug(f"{name}{path}: unsupported keyword {key!r}")
                else:
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(schema, "")


def test_the_validator_catches_what_it_claims() -> None:
    """Guards against a validator that passes everything."""
    schema = load("events-batch.json")
    good = json.loads(encode_batch("h", [Envelope(1, new_id(), T0, ev.WINDOW_OPENED,
                                                  {"window": 3})]))
    assert strict_errors(good, schema) == []
    no_id = json.loads(json.dumps(good))
    del no_id["events"][0]["id"]
    assert validate(no_id, schema)
    wrong_type = json.loads(json.dumps(good))
    wrong_type["events"][0]["data"]["window"] = "3"
    assert validate(wrong_type, schema)
    extra = json.loads(json.dumps(good))
    extra["events"][0]["data"]["colour"] = "red"
    assert validate(extra, schema) == []  # open for receivers ...
    assert strict_errors(extra, schema)  # ... but every field is documented here
    unknown_type = json.loads(json.dumps(good))
    unknown_type["events"][0]["type"] = "window.repainted"  # a future type: stored as is
    assert validate(unknown_type, schema) == []
    with pytest.raises(SchemaBug):
        validate(1, {"oneOf": []})


# ---- events --------------------------------------------------------------------------


def applicable_types() -> frozenset[str]:
    """Every event type the engine can apply: the core ones (`events.ALL_TYPES`) and the
    ones core modules register for themselves (`state.register_event`, imported with the
    engine by controller/core/modules.py). All of them go up to the cloud."""
    import controller.core.engine  # noqa: F401  registers the modules' types
    from controller.core import state

    return ev.ALL_TYPES | frozenset(state._HANDLERS)


def _event_types(schema: dict[str, Any]) -> dict[str, str]:
    """type -> the $ref its data is checked against, from the envelope's if/then list."""
    out = {}
    for rule in schema["$defs"]["event"]["allOf"]:
        out[rule["if"]["properties"]["type"]["const"]] = rule["then"]["properties"]["data"]["$ref"]
    return out


def test_every_event_type_has_a_schema_and_nothing_else_does() -> None:
    schema = load("events-batch.json")
    types = _event_types(schema)
    known = applicable_types()
    missing = sorted(known - set(types))
    assert not missing, f"event types without a schema in docs/schemas/events-batch.json: {missing}"
    stale = sorted(set(types) - known)
    assert not stale, f"schemas for event types the code does not have: {stale}"
    for t, ref in types.items():
        assert ref == f"#/$defs/{t}"
        assert _resolve(schema, ref)["type"] == "object"


def test_every_event_type_is_documented_in_cloud_protocol_md() -> None:
    text = (ROOT / "docs" / "cloud-protocol.md").read_text(encoding="utf-8")
    missing = sorted(t for t in applicable_types() if f"`{t}`" not in text)
    assert not missing, f"event types not described in docs/cloud-protocol.md: {missing}"


def test_the_scenario_produces_every_event_type(scenario: Scenario) -> None:
    produced = {e.type for e in scenario.hall.envelopes}
    known = applicable_types()
    assert produced == known, (
        "extend the scenario so every event type is checked against its schema; missing: "
        f"{sorted(known - produced)}")


def test_event_batch_matches_schema(scenario: Scenario) -> None:
    body = json.loads(scenario.batch)
    check(body, "events-batch.json")
    assert body["v"] == PROTOCOL_VERSION
    assert (body["first_seq"], body["last_seq"]) == (1, len(scenario.hall.envelopes))
    assert [e["seq"] for e in body["events"]] == list(range(1, len(body["events"]) + 1))
    assert len({e["id"] for e in body["events"]}) == len(body["events"])


def test_each_event_alone_matches_its_type(scenario: Scenario) -> None:
    """Per event, so that a failure names the type; batches of one as the uplink may send."""
    for e in scenario.hall.envelopes:
        body = json.loads(encode_batch(CFG.hall_id, [e]))
        errors = strict_errors(body, load("events-batch.json"))
        assert not errors, f"{e.type}: {errors}"


def test_no_identity_goes_up(scenario: Scenario) -> None:
    text = scenario.batch.decode("utf-8")
    assert "identity_hash" not in text
    for secret in (PHONE, ID_NUMBER, keyed_hash(KEY, PHONE), keyed_hash(KEY, ID_NUMBER)):
        assert secret not in text
    for ack in scenario.acks:
        assert PHONE not in json.dumps(ack) and ID_NUMBER not in json.dumps(ack)
    # Free text (a citizen's comment, complaint summaries, notes) stays in the hall: it is
    # not on the wire at all, and its phone number was masked before it was recorded.
    recorded = next(e for e in json.loads(text)["events"] if e["type"] == ev.EVALUATION_RECORDED)
    assert "comment" not in recorded["data"]
    assert "13800138000" not in text


def test_times_in_event_data_are_epoch_seconds(scenario: Scenario) -> None:
    """The envelope's ts_ms is in milliseconds; the instants inside data are in seconds."""
    events = json.loads(scenario.batch)["events"]
    created = next(e for e in events if e["type"] == ev.APPOINTMENT_CREATED)
    assert created["data"]["slot_start"] == pytest.approx(_ms(60) / 1000)
    assert abs(created["ts_ms"] / 1000 - (T0 + 40 * 60)) < 1


async def test_the_wire_batch_from_the_log_matches_schema(scenario: Scenario, tmp_path: Path
                                                          ) -> None:
    """The uplink does not call encode_batch: SQLite builds the batch from the stored
    events (EventLog.read_wire_batches) and encode_wire wraps it. Same bytes, in seq order,
    and batches cut anywhere join up to the whole log."""
    from controller.sync.protocol import encode_wire

    envelopes = scenario.hall.envelopes
    log = await EventLog.open(tmp_path)
    try:
        await log.append(envelopes, [])
        (whole,) = await log.read_wire_batches(0, 10_000, 5)
        pieces = await log.read_wire_batches(0, 7, 1000)
        assert len(await log.read_wire_batches(7, 7, 2)) == 2  # no more than asked for
        assert await log.read_wire_batches(len(envelopes), 10, 5) == []
    finally:
        await log.close()
    assert encode_wire(CFG.hall_id, whole) == scenario.batch == encode_batch(CFG.hall_id,
                                                                             envelopes)
    wire = json.loads(encode_wire(CFG.hall_id, whole))
    check(wire, "events-batch.json")
    assert [e["seq"] for e in wire["events"]] == list(range(1, len(envelopes) + 1))
    assert [(p.first_seq, p.last_seq) for p in pieces] == [
        (s, min(s + 6, len(envelopes))) for s in range(1, len(envelopes) + 1, 7)]
    assert b",".join(p.events for p in pieces) == whole.events


def test_reference_cloud_accepts_the_batch_and_answers_a_receipt(scenario: Scenario) -> None:
    sim = scenario.sim
    assert sim.received == len(scenario.hall.envelopes) and sim.duplicates == 0
    assert scenario.receipts, "the reference cloud answers every batch with a receipt"
    for receipt in scenario.receipts:
        check(receipt, "receipt.json")
    assert scenario.receipts[-1]["last_seq"] == len(scenario.hall.envelopes)


# ---- status, commands, acks ----------------------------------------------------------


@pytest.mark.parametrize("online", [True, False])
def test_status_payload_matches_schema(online: bool) -> None:
    body = json.loads(status_payload(CFG.hall_id, online))
    check(body, "status.json")
    assert body["state"] == ("online" if online else "offline")


def test_command_schema_covers_every_kind() -> None:
    schema = load("command.json")
    kinds = [rule["if"]["properties"]["kind"]["const"] for rule in schema["allOf"]]
    assert sorted(kinds) == sorted(DownlinkHandler.KINDS)
    assert sorted(schema["properties"]["kind"]["enum"]) == sorted(DownlinkHandler.KINDS)
    for kind in DownlinkHandler.KINDS:
        assert schema["$defs"][kind]["type"] == "object"
    text = (ROOT / "docs" / "cloud-protocol.md").read_text(encoding="utf-8")
    assert not [k for k in DownlinkHandler.KINDS if f"`{k}`" not in text]


def test_commands_from_the_reference_cloud_match_schema(scenario: Scenario) -> None:
    assert {cmd["kind"] for cmd in scenario.commands} == set(DownlinkHandler.KINDS)
    for command in scenario.commands:
        check(command, "command.json")


@pytest.mark.parametrize("payload", [
    {"v": 1, "kind": "sms_ticket", "body": {"category": "A", "phone": PHONE}},
    {"v": 2, "id": "a", "kind": "sms_ticket", "body": {"category": "A", "phone": PHONE}},
    {"v": 1, "id": "", "kind": "sms_ticket", "body": {"category": "A", "phone": PHONE}},
    {"v": 1, "id": "a" * 65, "kind": "sms_ticket", "body": {"category": "A", "phone": PHONE}},
    {"v": 1, "id": "a", "kind": "catalog.update", "body": {}},
    {"v": 1, "id": "a", "kind": "sms_ticket", "body": []},
    {"v": 1, "id": "a", "kind": "sms_ticket", "body": {"category": "A"}},
    {"v": 1, "id": "a", "kind": "sms_ticket", "body": {"category": "AB", "phone": PHONE}},
    {"v": 1, "id": "a", "kind": "sms_ticket", "body": {"category": " ", "phone": PHONE}},
    {"v": 1, "id": "a", "kind": "notice.publish", "body": {"notice_id": "n", "text": "x" * 501}},
    {"v": 1, "id": "a", "kind": "notice.publish",
     "body": {"notice_id": "n", "text": "t", "until": "2024-03-04T17:30:00"}},
    {"v": 1, "id": "a", "kind": "notice.publish",
     "body": {"notice_id": "n", "text": "t", "until": True}},
    {"v": 1, "id": "a", "kind": "appointment.create",
     "body": {"appointment_id": "b", "category": "A", "slot_start": 1, "identity": PHONE}},
])
def test_command_schema_refuses_what_the_hall_refuses_as_malformed(payload: dict[str, Any]
                                                                   ) -> None:
    handler = DownlinkHandler(CFG, None, KEY)  # type: ignore[arg-type]
    with pytest.raises(Malformed):
        handler.parse(json.dumps(payload).encode())
    assert validate(payload, load("command.json")), "the schema accepts a malformed command"


def test_acks_match_schema(scenario: Scenario) -> None:
    results = {(a["result"], a.get("first_result")) for a in scenario.acks}
    assert results == {("applied", None), ("rejected", None), ("duplicate", "applied"),
                       ("duplicate", "rejected")}
    for ack in scenario.acks:
        check(ack, "ack.json")
        assert ack["v"] == PROTOCOL_VERSION and ack["hall_id"] == CFG.hall_id
    # The reference cloud stops re-sending every command it got an ack for.
    assert scenario.sim.pending == {}


def test_ack_schema_requires_reason_when_rejected() -> None:
    schema = load("ack.json")
    assert validate({"v": 1, "hall_id": "h", "command_id": "c", "result": "rejected"}, schema)
    assert validate({"v": 1, "hall_id": "h", "command_id": "c", "result": "duplicate"}, schema)


def test_every_ack_reason_is_documented(scenario: Scenario) -> None:
    text = (ROOT / "docs" / "cloud-protocol.md").read_text(encoding="utf-8")
    reasons = {a["reason"] for a in scenario.acks if "reason" in a}
    assert not [r for r in sorted(reasons) if f"`{r}`" not in text]


# ---- the review-system report --------------------------------------------------------


def test_review_reports_match_schema(scenario: Scenario) -> None:
    state = scenario.hall.state
    assert len(state.evaluations) == 2
    for evaluation in state.evaluations.values():
        fields = report_fields(CFG, state, evaluation)
        check(fields, "review-report.json")
        body = encode_form(fields)
        # What the review system parses out of the body is exactly the same record.
        assert dict(parse_qsl(body.decode("ascii"), keep_blank_values=True)) == fields
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature(b"secret", body))


def test_review_report_values(scenario: Scenario) -> None:
    """The mapping documented in docs/haochaping.md, on the two evaluations."""
    state = scenario.hall.state
    by_level = {e.level: report_fields(CFG, state, e) for e in state.evaluations.values()}
    bad, good = by_level[2], by_level[5]
    assert bad["satisfaction"] == "2" and good["satisfaction"] == "5"
    assert bad["pf"] == "4" and good["pf"] == "3"  # pad, qr via [review].channel_codes
    assert bad["evalDetail"] == "E01,E02" and good["evalDetail"] == ""
    assert bad["projectNo"] == "330100202403040001"
    assert bad["taskCode"] == "11330100MB0000000X-001"
    assert good["projectNo"] == next(e.ticket_id for e in state.evaluations.values()
                                     if e.level == 5)
    assert bad["taskName"] == bad["subMatter"] == CFG.categories["A"].name
    assert bad["assessTime"] == "2024-03-04 10:21:00"
    assert bad["acceptDate"] == "2024-03-04 09:02:00"
    # a2 was completed for a company: its credit code, normalised, and userProp 2.
    assert (bad["certkeyGOV"], bad["userProp"], bad["userName"]) == ("91330100716105852F", "2", "")
    assert (good["certkeyGOV"], good["userProp"]) == ("", "1")  # a person, anonymous here


def test_haochaping_md_documents_every_field_and_reason() -> None:
    text = (ROOT / "docs" / "haochaping.md").read_text(encoding="utf-8")
    schema = load("review-report.json")
    assert not [f for f in schema["properties"] if f"`{f}`" not in text]
    assert not [r.code for r in CFG.evaluation_reasons if f"`{r.code}`" not in text]
    for channel, _code in CFG.review.channel_codes:
        assert f"`{channel}`" in text


def test_the_scenario_clock_is_what_the_assertions_assume() -> None:
    assert local(T0, CFG.day).strftime("%Y-%m-%d %H:%M %a") == "2024-03-04 09:00 Mon"
