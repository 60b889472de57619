"""Device profiles and the hall's [[devices]] list: every shipped profile loads, and every
mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.config import DEFAULT_CONFIG, ConfigError, HallConfig, load_config
from controller.devices.config import parse_devices
from controller.devices.profiles import PROFILE_DIR, load_profile, load_profiles, parse_profile


def test_every_shipped_profile_loads() -> None:
    profiles = load_profiles()
    assert {"caller-keypad-ff68", "evaluator-4key-ff68", "evaluator-5key-ff68",
            "onbon-bx5-tcp", "onbon-bx6-rs485", "generic-ht1-screen", "escpos-80mm-tcp",
            "idcard-sam-serial", "people-counter-modbus-tcp"} <= set(profiles)
    assert profiles["caller-keypad-ff68"].keys[0x0C] == "call"
    assert profiles["evaluator-4key-ff68"].levels == {1: 5, 2: 4, 3: 3, 4: 1}
    counter = profiles["people-counter-modbus-tcp"].registers
    assert counter is not None and counter.block() == (0, 4)


def test_demo_hall_devices() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    kinds = {d.kind for d in cfg.devices}
    assert kinds == {"keypad", "evaluator", "display", "printer", "idcard", "counter"}


BASE: dict[str, Any] = {
    "profile": {"schema": 1, "kind": "keypad", "codec": "keypad"},
    "transport": {"type": "rs485", "baudrate": 9600},
    "addresses": {"min": 1, "max": 99},
    "keys": {"call": 12},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    import copy

    raw = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    table = raw
    for p in parents:
        table = table.setdefault(p, {})
    if value is None:
        table.pop(last, None)
    else:
        table[last] = value
    return raw


@pytest.mark.parametrize(("path", "value", "key"), [
    ("profile.kind", "toaster", "profile.kind"),
    ("profile.codec", "onbon_bx", "profile.codec"),
    ("profile.schema", 99, "profile.schema"),
    ("profile.encoding", "klingon", "profile.encoding"),
    ("profile.colour", "red", "profile.colour"),
    ("transport.type", "pigeon", "transport.type"),
    ("transport.parity", "X", "transport.parity"),
    ("transport.baudrate", "fast", "transport.baudrate"),
    ("addresses.max", 0, "addresses.max"),
    ("keys.call", 300, "keys.call"),
    ("keys.fly", 1, "keys.fly"),
    ("timing.reply_timeout_ms", 0, "timing.reply_timeout_ms"),
    ("keys", None, "keys"),
])
def test_profile_errors_name_file_and_key(path: str, value: Any, key: str) -> None:
    file = Path("device_profiles/bad.toml")
    with pytest.raises(ConfigError) as err:
        parse_profile(_with(path, value), file)
    assert err.value.file == file and err.value.key == key


def test_keypad_table_needs_schema_2_and_names_its_keys() -> None:
    """Schema 2's [keypad]: a schema-1 profile may not use it (an older controller would
    call it an unknown key); its values are checked like every other key."""
    file = Path("device_profiles/bad.toml")
    with pytest.raises(ConfigError) as err:
        parse_profile(_with("keypad", {"result_ms": 1000}), file)
    assert err.value.key == "keypad" and "schema = 2" in str(err.value)
    two = _with("profile.schema", 2)
    for path, value, key in [("keypad", {"result_ms": -1}, "keypad.result_ms"),
                             ("keypad", {"glyphs": {"E": 5}}, "keypad.glyphs.E"),
                             ("keypad", {"glyphs": {"EE": 14}}, "keypad.glyphs.EE"),
                             ("keypad", {"transfer_reason": "  "}, "keypad.transfer_reason"),
                             ("keypad", {"beep": True}, "keypad.beep")]:
        raw = dict(two, **{path: value})
        with pytest.raises(ConfigError) as err:
            parse_profile(raw, file)
        assert err.value.key == key, (value, err.value)
    ok = parse_profile(dict(two, keypad={"transfer_reason": "转其他窗口", "result_ms": 500,
                                         "glyphs": {"E": 0x0E}}), file)
    assert (ok.keypad.transfer_reason, ok.keypad.result_ms, ok.keypad.glyphs) == (
        "转其他窗口", 500, {"E": 0x0E})
    plain = parse_profile(BASE, file)  # schema 1: the defaults
    assert plain.keypad.transfer_reason == "窗口呼叫器转号" and plain.keypad.glyphs == {}


def test_duplicate_key_codes(tmp_path: Path) -> None:
    f = tmp_path / "dup.toml"
    f.write_text('[profile]\nschema = 1\nkind = "keypad"\ncodec = "keypad"\n'
                 '[transport]\ntype = "rs485"\n[keys]\ncall = 12\nrecall = 12\n')
    with pytest.raises(ConfigError, match="mapped twice"):
        load_profile(f)


def test_syntax_error_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("[profile\n")
    with pytest.raises(ConfigError) as err:
        load_profile(f)
    assert err.value.file == f and err.value.key == "(syntax)"


def _devices(cfg: HallConfig, items: list[dict[str, Any]]) -> Any:
    return parse_devices(items, Path("hall.toml"), cfg.categories, cfg.windows,
                         {p.name for p in cfg.priorities}, PROFILE_DIR)


KEYPAD = {"id": "kp", "profile": "caller-keypad-ff68", "port": "/dev/ttyUSB0", "address": 1,
          "window": 1}


@pytest.mark.parametrize(("change", "key", "message"), [
    ({"profile": "nope"}, "devices[0].profile", "no profile"),
    ({"address": 120}, "devices[0].address", "1-99"),
    ({"address": None}, "devices[0].address", "required"),
    ({"window": 99}, "devices[0].window", "no window"),
    ({"window": None}, "devices[0].window", "belongs to a window"),
    ({"port": None}, "devices[0].port", "needs port"),
    ({"id": "Bad Id"}, "devices[0].id", "lower-case"),
    ({"colour": "red"}, "devices[0].colour", "unknown key"),
    ({"role": "hall_strip"}, "devices[0].role", "only displays"),
])
def test_device_errors_name_the_key(demo_cfg: HallConfig, change: dict[str, Any], key: str,
                                    message: str) -> None:
    item = {k: v for k, v in ({**KEYPAD, **change}).items() if v is not None}
    with pytest.raises(ConfigError, match=message) as err:
        _devices(demo_cfg, [item])
    assert err.value.key == key and err.value.file == Path("hall.toml")


def test_bus_conflicts(demo_cfg: HallConfig) -> None:
    with pytest.raises(ConfigError, match="taken by kp") as err:
        _devices(demo_cfg, [KEYPAD, {**KEYPAD, "id": "kp2", "window": 2}])
    assert err.value.key == "devices[1].address"
    with pytest.raises(ConfigError, match="taken by kp") as err:
        _devices(demo_cfg, [KEYPAD, {"id": "id", "profile": "idcard-sam-serial",
                                     "port": "/dev/ttyUSB0"}])
    assert err.value.key == "devices[1].port"
    with pytest.raises(ConfigError, match="duplicate device id"):
        _devices(demo_cfg, [KEYPAD, KEYPAD])


def test_bus_speeds_must_agree(demo_cfg: HallConfig, tmp_path: Path) -> None:
    for name in ("caller-keypad-ff68", "generic-ht1-screen"):
        (tmp_path / f"{name}.toml").write_text((PROFILE_DIR / f"{name}.toml").read_text())
    fast = (PROFILE_DIR / "generic-ht1-screen.toml").read_text().replace("9600", "19200")
    (tmp_path / "fast-screen.toml").write_text(fast)
    items = [KEYPAD, {"id": "s", "profile": "fast-screen", "port": "/dev/ttyUSB0",
                      "address": 30, "window": 1}]
    with pytest.raises(ConfigError, match="must agree") as err:
        parse_devices(items, Path("hall.toml"), demo_cfg.categories, demo_cfg.windows,
                      set(), tmp_path)
    assert err.value.key == "devices[1].profile"


def test_network_devices_and_printer_link(demo_cfg: HallConfig) -> None:
    devs = _devices(demo_cfg, [
        {"id": "p", "profile": "escpos-80mm-tcp", "host": "10.0.0.9"},
        {"id": "r", "profile": "idcard-sam-serial", "port": "/dev/ttyS1", "printer": "p"},
        {"id": "s", "profile": "onbon-bx5-tcp", "host": "[::1]:5006", "role": "hall_strip"},
    ])
    assert (devs[0].host, devs[0].tcp_port) == ("10.0.0.9", 9100)
    assert devs[1].category == "A" and devs[1].priority_group == "green"
    assert (devs[2].host, devs[2].tcp_port) == ("::1", 5006)
    with pytest.raises(ConfigError) as err:
        _devices(demo_cfg, [{"id": "r", "profile": "idcard-sam-serial", "port": "/dev/ttyS1",
                             "printer": "ghost"}])
    assert err.value.key == "devices[0].printer"
    with pytest.raises(ConfigError) as err:
        _devices(demo_cfg, [{"id": "s", "profile": "onbon-bx5-tcp", "host": "h:99999",
                             "role": "hall_strip"}])
    assert err.value.key == "devices[0].host"
    with pytest.raises(ConfigError) as err:
        _devices(demo_cfg, [{"id": "s", "profile": "onbon-bx5-tcp", "host": "h"}])
    assert err.value.key == "devices[0].role"


def test_hall_file_with_a_bad_device(tmp_path: Path) -> None:
    import shutil

    for f in DEFAULT_CONFIG.parent.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    bad = tmp_path / "hall.toml"
    bad.write_text(text + '\n[[devices]]\nid = "x"\nprofile = "missing-model"\nport = "/dev/x"\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert err.value.file == bad and err.value.key.endswith(".profile")
