"""Device profiles: one TOML file per device model, validated at load.

A profile is data: transport and its parameters, framing timings, encoding, the address
range, the key / level / register maps, and which codec in `firmware_bridges/` speaks it.
A mistake names the file and the dotted key, like the hall file (controller/config).
The schema and its change log: docs/device-profiles.md.
"""

from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.config.loader import _REQUIRED, ConfigError, _Reader
from firmware_bridges.counter import CounterMap, Register

PROFILE_DIR = Path(__file__).resolve().parents[2] / "device_profiles"
SCHEMA_VERSION = 2  # 2: the optional [keypad] table (transfer reason, result time, glyphs)
TRANSFER_REASON = "窗口呼叫器转号"

KINDS = ("keypad", "evaluator", "display", "printer", "idcard", "counter")
CODECS = {  # codec -> the kinds it can serve
    "keypad": ("keypad", "evaluator"),
    "onbon_bx": ("display",),
    "textscreen": ("display",),
    "escpos": ("printer",),
    "idcard_sam": ("idcard",),
    "modbus_counter": ("counter",),
}
TRANSPORTS = ("rs485", "serial", "tcp", "modbus_tcp", "modbus_rtu")
KEY_ACTIONS = ("call", "recall", "no_show", "complete", "pause", "resume", "transfer",
               "evaluate", "confirm", "suspend")


@dataclass(frozen=True, slots=True)
class Transport:
    type: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    default_port: int | None = None  # TCP port when the hall file gives only a host

    @property
    def is_bus(self) -> bool:
        """Addressed devices that share one port: one task owns it. (A Modbus RTU counter
        is addressed, but its port is its own: our buses speak the hall's frames, not
        Modbus.)"""
        return self.type == "rs485"


@dataclass(frozen=True, slots=True)
class Timing:
    inter_frame_gap_ms: int = 10
    reply_timeout_ms: int = 300
    poll_interval_ms: int = 1000
    offline_after: int = 3  # missed replies in a row before a device is offline


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    file: Path
    schema: int
    kind: str
    codec: str
    model: str
    transport: Transport
    timing: Timing
    encoding: str
    address_min: int
    address_max: int
    keys: dict[int, str] = field(default_factory=dict)  # key code -> action
    key_func: int = 0x04
    poll_func: int = 0x01
    levels: dict[int, int] = field(default_factory=dict)  # evaluator raw value -> level
    display: dict[str, int] = field(default_factory=dict)  # width, height, area_id, mode
    registers: CounterMap | None = None
    unit_id_default: int = 1
    keypad: KeypadOptions = field(default_factory=lambda: KeypadOptions())


@dataclass(frozen=True, slots=True)
class KeypadOptions:
    """Schema 2, `[keypad]`: what a caller keypad's transfer records and how it shows a
    result (the target window, or E-- when refused) before going back to its digits."""

    transfer_reason: str = TRANSFER_REASON
    result_ms: int = 3000
    glyphs: dict[str, int] = field(default_factory=dict)  # character -> segment code


def _code(r: _Reader, name: str, raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 255:
        return raw
    raise r.fail(name, f"must be a byte value 0-255, not {raw!r}")


def load_profile(path: Path) -> Profile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    return parse_profile(raw, path)


def parse_profile(raw: dict[str, Any], path: Path) -> Profile:
    top = _Reader(path, "", raw)
    p = _Reader(path, "profile", top.table_("profile", _REQUIRED))
    schema = p.int("schema", _REQUIRED, 1, 1000)
    if schema > SCHEMA_VERSION:
        raise p.fail("schema", f"this controller reads profile schema up to {SCHEMA_VERSION}")
    kind = p.str("kind", _REQUIRED)
    if kind not in KINDS:
        raise p.fail("kind", f"must be one of {', '.join(KINDS)}")
    codec = p.str("codec", _REQUIRED)
    if codec not in CODECS:
        raise p.fail("codec", f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
    if kind not in CODECS[codec]:
        raise p.fail("codec", f"codec {codec} cannot drive a {kind}")
    model = p.str("model", path.stem)
    encoding = p.str("encoding", "gb18030")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise p.fail("encoding", f"unknown text encoding {encoding!r}") from None
    p.str("vendor", None)
    p.str("description", None)
    p.done()

    t = _Reader(path, "transport", top.table_("transport", _REQUIRED))
    ttype = t.str("type", _REQUIRED)
    if ttype not in TRANSPORTS:
        raise t.fail("type", f"must be one of {', '.join(TRANSPORTS)}")
    parity = t.str("parity", "N")
    if parity not in ("N", "E", "O"):
        raise t.fail("parity", "must be N, E or O")
    transport = Transport(
        type=ttype,
        baudrate=t.int("baudrate", 9600, 300, 921600),
        bytesize=t.int("bytesize", 8, 5, 8),
        parity=parity,
        stopbits=t.int("stopbits", 1, 1, 2),
        default_port=t.int("default_port", None, 1, 65535),
    )
    t.done()
    if codec == "modbus_counter" and ttype not in ("modbus_tcp", "modbus_rtu"):
        raise ConfigError(path, "transport.type", "a Modbus counter needs modbus_tcp or modbus_rtu")
    if codec != "modbus_counter" and ttype.startswith("modbus"):
        raise ConfigError(path, "transport.type", f"codec {codec} does not speak Modbus")

    tm = _Reader(path, "timing", top.table_("timing", {}))
    timing = Timing(
        inter_frame_gap_ms=tm.int("inter_frame_gap_ms", 10, 0, 1000),
        reply_timeout_ms=tm.int("reply_timeout_ms", 300, 10, 10000),
        poll_interval_ms=tm.int("poll_interval_ms", 1000, 50, 600000),
        offline_after=tm.int("offline_after", 3, 1, 100),
    )
    tm.done()

    a = _Reader(path, "addresses", top.table_("addresses", {}))
    lo = a.int("min", 0, 0, 255)
    hi = a.int("max", 0, 0, 255)
    if hi < lo:
        raise a.fail("max", "must not be below min")
    a.done()

    keys: dict[int, str] = {}
    options = KeypadOptions()
    key_func, poll_func = 0x04, 0x01
    levels: dict[int, int] = {}
    if codec == "keypad":
        f = _Reader(path, "frame", top.table_("frame", {}))
        key_func = _code(f, "key_func", f.int("key_func", 0x04, 0, 255))
        poll_func = _code(f, "poll_func", f.int("poll_func", 0x01, 0, 255))
        f.done()
    if kind == "keypad":
        k = _Reader(path, "keys", top.table_("keys", _REQUIRED))
        for action in list(k.table):
            if action not in KEY_ACTIONS:
                raise k.fail(action, f"unknown action; known: {', '.join(KEY_ACTIONS)}")
            code = _code(k, action, k.table.pop(action))
            if code in keys:
                raise k.fail(action, f"key code {code:#04x} is mapped twice")
            keys[code] = action
        if "keypad" in top.table:
            if schema < 2:
                raise top.fail("keypad", "needs schema = 2 or later in [profile]")
            kp = _Reader(path, "keypad", top.table_("keypad", {}))
            reason = kp.str("transfer_reason", TRANSFER_REASON).strip()
            if not reason or len(reason) > 100:
                raise kp.fail("transfer_reason", "must be 1-100 characters")
            result_ms = kp.int("result_ms", 3000, 0, 60000)
            g = _Reader(path, "keypad.glyphs", kp.table_("glyphs", {}))
            glyphs: dict[str, int] = {}
            for ch in list(g.table):
                if len(ch) != 1 or ch.isdigit() or ch == " ":
                    raise g.fail(ch, "keys are single characters other than digits and space")
                glyphs[ch] = _code(g, ch, g.table.pop(ch))
                if glyphs[ch] <= 9 or glyphs[ch] == 0x0A:
                    raise g.fail(ch, "0-9 are the digits and 0x0A is blank")
            kp.done()
            options = KeypadOptions(reason, result_ms, glyphs)
    if kind == "evaluator":
        lv = _Reader(path, "levels", top.table_("levels", _REQUIRED))
        for raw_value in list(lv.table):
            if not raw_value.isdigit() or not 0 <= int(raw_value) <= 255:
                raise lv.fail(raw_value, "keys are the evaluator's raw values 0-255")
            level = lv.table.pop(raw_value)
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
                raise lv.fail(raw_value, f"must be a level 1-5, not {level!r}")
            levels[int(raw_value)] = level
        if not levels:
            raise top.fail("levels", "must map at least one value")
    display: dict[str, int] = {}
    if kind == "display":
        d = _Reader(path, "display", top.table_("display", {}))
        display = {"width": d.int("width", 64, 8, 4096), "height": d.int("height", 16, 8, 4096),
                   "area_id": d.int("area_id", 0, 0, 255),
                   "mode": d.int("mode", 1, 1, 6), "lines": d.int("lines", 1, 1, 16)}
        if display["width"] % 8:
            raise d.fail("width", "must be a multiple of 8 pixels")
        d.done()
    registers = None
    if kind == "counter":
        rg = _Reader(path, "registers", top.table_("registers", _REQUIRED))
        table = rg.str("table", "input")
        if table not in ("input", "holding"):
            raise rg.fail("table", "must be input or holding")
        counters: dict[str, Register] = {}
        for name in ("in", "out"):
            c = _Reader(path, f"registers.{name}", rg.table_(name, _REQUIRED))
            order = c.str("word_order", "big")
            if order not in ("big", "little"):
                raise c.fail("word_order", "must be big or little")
            counters[name] = Register(c.int("address", _REQUIRED, 0, 65535),
                                      c.int("words", 1, 1, 2), order == "big")
            c.done()
        rg.done()
        registers = CounterMap(table, counters)
    top.done()
    return Profile(path.stem, path, schema, kind, codec, model, transport, timing, encoding,
                   lo, hi, keys, key_func, poll_func, levels, display, registers,
                   keypad=options)


def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, Profile]:
    """Every *.toml in the folder, by file stem; the first bad one raises ConfigError."""
    return {p.stem: load_profile(p) for p in sorted(directory.glob("*.toml"))}
