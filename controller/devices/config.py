"""`[[devices]]` in the hall file: device instances wired to profiles, ports and windows.

Checked at load like the rest of the hall file, every mistake naming the file and the key:
an unknown profile, an address outside the model's range or used twice on one bus, a bus
whose devices disagree on the baud rate, a keypad without a window.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from controller.config.loader import _REQUIRED, ConfigError, _Reader
from controller.config.model import Category, DeviceEntry, Window
from controller.devices.profiles import PROFILE_DIR, Profile, load_profiles

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_HOST = re.compile(r"([^\s:\[\]\x00]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?")
ROLES = ("window_screen", "hall_strip")
_cache: dict[Path, dict[str, Profile]] = {}


def profiles(directory: Path = PROFILE_DIR) -> dict[str, Profile]:
    if directory not in _cache:
        _cache[directory] = load_profiles(directory)
    return _cache[directory]


def parse_devices(items: list[Any], file: Path, categories: dict[str, Category],
                  windows: dict[int, Window], groups: set[str],
                  directory: Path = PROFILE_DIR, *, reasons: set[str] | None = None
                  ) -> tuple[DeviceEntry, ...]:
    """`reasons`: the hall's `[[evaluation_reasons]]` codes, which a `bad_reason` must be one
    of (the hall file's loader always gives them; None leaves `bad_reason` unchecked)."""
    known = profiles(directory) if items else {}
    out: list[DeviceEntry] = []
    seen: dict[str, int] = {}
    buses: dict[str, tuple[Profile, dict[int, str]]] = {}
    owners: dict[str, tuple[str, bool]] = {}  # port -> (first device, is a bus)
    for i, item in enumerate(items):
        r = _Reader(file, f"devices[{i}]", item)
        dev_id = r.str("id", _REQUIRED)
        if not _ID.fullmatch(dev_id):
            raise r.fail("id", "must be 1-32 lower-case letters, digits, '_' or '-'")
        if dev_id in seen:
            raise r.fail("id", f"duplicate device id {dev_id!r}")
        seen[dev_id] = i
        name = r.str("profile", _REQUIRED)
        profile = known.get(name)
        if profile is None:
            raise r.fail("profile", f"no profile {name!r} in {directory}")
        t = profile.transport
        port = r.str("port", None)
        host_raw = r.str("host", None)
        host = tcp_port = None
        if t.type in ("tcp", "modbus_tcp"):
            if host_raw is None or port is not None:
                raise r.fail("host", f"a {t.type} device needs host = \"HOST[:PORT]\" and no port")
            m = _HOST.fullmatch(host_raw)
            if not m:
                raise r.fail("host", f"must be HOST or HOST:PORT, not {host_raw!r}")
            host = m[1].strip("[]")
            tcp_port = int(m[2]) if m[2] else t.default_port
            if tcp_port is None or not 1 <= tcp_port <= 65535:
                raise r.fail("host", "needs a port 1-65535 (the profile gives no default)")
        else:
            if port is None or host_raw is not None:
                raise r.fail("port", f"a {t.type} device needs port = \"/dev/tty...\" and no host")
            if "\0" in port:
                raise r.fail("port", "must not contain a NUL character")
        address = r.int("address", None, 0, 255)
        if profile.address_max or t.is_bus:
            if address is None:
                raise r.fail("address", "is required: the device is addressed on its bus")
            if not profile.address_min <= address <= profile.address_max:
                raise r.fail("address", f"must be {profile.address_min}-{profile.address_max} "
                                        f"for {profile.name}")
        if port is not None:
            owner = owners.setdefault(port, (dev_id, t.is_bus))
            if owner[0] != dev_id and not (owner[1] and t.is_bus):
                raise r.fail("port", f"{port} is taken by {owner[0]}: only bus devices share "
                                     "a port")
        if t.is_bus and port is not None:
            first, used = buses.setdefault(port, (profile, {}))
            if (first.transport.baudrate, first.transport.parity, first.transport.bytesize,
                    first.transport.stopbits) != (t.baudrate, t.parity, t.bytesize, t.stopbits):
                raise r.fail("profile", f"bus {port} runs {first.transport.baudrate} baud "
                                        f"({first.name}): its devices must agree")
            if first.transport.type != t.type:
                raise r.fail("profile", f"bus {port} is {first.transport.type}, not {t.type}")
            assert address is not None
            if address in used:
                raise r.fail("address", f"address {address} on {port} is taken by {used[address]}")
            used[address] = dev_id
        window = r.int("window", None, 1, 999)
        if window is not None and window not in windows:
            raise r.fail("window", f"no window {window} in this hall")
        if profile.kind in ("keypad", "evaluator") and window is None:
            raise r.fail("window", f"a {profile.kind} belongs to a window")
        role = r.str("role", None)
        if profile.kind == "display":
            role = role or ("window_screen" if window is not None else None)
            if role not in ROLES:
                raise r.fail("role", f"a display is one of {', '.join(ROLES)}")
            if role == "window_screen" and window is None:
                raise r.fail("window", "a window screen needs its window")
        elif role is not None:
            raise r.fail("role", "only displays have a role")
        category = r.str("category", None)
        if category is not None and category not in categories:
            raise r.fail("category", f"unknown category {category!r}")
        if profile.kind == "idcard" and category is None:
            category = next(iter(categories))
        printer = r.str("printer", None)
        group = r.str("priority_group", None)
        if group is not None and group not in groups:
            raise r.fail("priority_group", f"no priority group {group!r}")
        if profile.kind == "idcard" and group is None and "green" in groups:
            group = "green"
        age = r.int("priority_age", 60, 0, 150)
        bad_reason = r.str("bad_reason", None)
        if profile.kind == "evaluator" and bad_reason is None and reasons:
            # The core takes a rating of 2 or 1 only with a reason, and an evaluator's keys
            # cannot say one: without this, every bad rating from it would be refused, lost.
            raise r.fail("bad_reason", f"{dev_id}: an evaluator cannot say why a rating is "
                                       "bad: name the reason code recorded with its 1 and 2 "
                                       f"(one of {', '.join(sorted(reasons))})")
        if bad_reason is not None and reasons is not None and bad_reason not in reasons:
            codes = ", ".join(sorted(reasons)) or "none: the hall has no [[evaluation_reasons]]"
            raise r.fail("bad_reason", f"{dev_id}: no reason {bad_reason!r} in "
                                       f"[[evaluation_reasons]] (known: {codes}): every 1 or 2 "
                                       "it records would be refused")
        out.append(DeviceEntry(
            id=dev_id, profile=name, kind=profile.kind, port=port, host=host, tcp_port=tcp_port,
            address=address, window=window, role=role, category=category, printer=printer,
            priority_group=group, priority_age=age, bad_reason=bad_reason))
        r.done()
    by_id = {d.id: d for d in out}
    for d in out:
        if d.printer is not None:
            target = by_id.get(d.printer)
            if target is None or target.kind != "printer":
                raise ConfigError(file, f"devices[{seen[d.id]}].printer",
                                  f"{d.printer!r} is not a printer of this hall")
    return tuple(out)
