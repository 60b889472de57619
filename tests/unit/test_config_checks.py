"""What `hallctl check-config` must refuse because the daemon would not run with it as
intended, each refusal naming the file and the exact key, never a traceback.

Covers numbers beyond a float or beyond any sane value, announcement templates that fail
only at run time, NUL characters in path keys, missing catalog and cloud files, ports out of
range in `hall.listen` and the cloud URLs, a device's `bad_reason` that is no reason of the
hall, TOML date-times as holidays, empty review channel codes, and `closes = "24:00"` for a
hall open to the end of the day (through the engine, the business day and the flow record).
"""

from __future__ import annotations

import copy
import os
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from controller.config.loader import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.clock import business_day, within_hours
from controller.core.engine import execute
from controller.core.flow import FlowBuilder
from controller.core.state import HallState
from tests.flow.helpers import HALL as FLOW_HALL
from tests.flow.helpers import Driver, at

FILE = Path("halls/test.toml")
HUGE = 10**400  # no float holds it


def minimal(**sections: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "hall": {"id": "h1", "name": "最小大厅"},
        "business_day": {"opens": "09:00", "closes": "17:00"},
        "categories": [{"prefix": "A", "name": "综合"}],
        "windows": [{"number": 1, "categories": {"A": 1}}],
    }
    for name, table in sections.items():
        raw.setdefault(name, {}).update(table)
    return raw


def refused(raw: dict[str, Any], file: Path = FILE) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, file)
    err = info.value
    assert err.file == file
    assert str(err) == f"{file}: {err.key}: {err.message}"
    return err


def demo() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))


# -- 1. numbers: beyond a float, and beyond what a hall could mean ------------------------

NUMBER_KEYS = [  # (section, key, largest accepted)
    ("categories", "default_service_min", 1440),
    ("flow", "capacity_factor", 10),
    ("flow", "service_limit_factor", 20),
    ("cloud", "receipt_wait_s", 3600),
    ("cloud", "evaluation_timeout_s", 300),
    ("review", "identity_retention_h", 720),
]


def _with_number(section: str, key: str, value: Any) -> dict[str, Any]:
    raw = minimal()
    if section == "categories":
        raw["categories"][0][key] = value
    else:
        raw[section] = {key: value}
    return raw


def _dotted(section: str, key: str) -> str:
    return f"categories[0].{key}" if section == "categories" else f"{section}.{key}"


@pytest.mark.parametrize(("section", "key", "hi"), NUMBER_KEYS)
@pytest.mark.parametrize("value", [HUGE, -HUGE, 1e308, float("inf"), float("nan"), 0, -1])
def test_a_number_key_out_of_bounds_is_named(section: str, key: str, hi: float,
                                              value: Any) -> None:
    err = refused(_with_number(section, key, value))
    assert err.key == _dotted(section, key)
    assert f"at most {hi}" in err.message
    if isinstance(value, int) and abs(value) > 10**15:
        assert "an integer of 401 digits" in err.message  # not 400 digits printed


@pytest.mark.parametrize(("section", "key", "hi"), NUMBER_KEYS)
def test_a_number_key_at_its_bound_loads_as_a_float(section: str, key: str, hi: float) -> None:
    cfg = parse_config(_with_number(section, key, hi), FILE)
    got = {"categories": lambda: cfg.categories["A"].default_service_min,
           "flow": lambda: getattr(cfg.flow, key), "cloud": lambda: getattr(cfg.cloud, key),
           "review": lambda: getattr(cfg.review, key)}[section]()
    assert got == hi and isinstance(got, float)


def test_check_config_exits_2_on_a_huge_integer(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hall.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    path.write_text(text.replace("default_service_min = 12", "default_service_min = 1"
                                 + "0" * 400, 1), encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hallctl: configuration error: {path}: "
                          "categories[0].default_service_min: ")
    path.write_text(text.replace("capacity_factor = 1.0", "capacity_factor = 9" + "9" * 5000),
                    encoding="utf-8")  # beyond what Python parses as an integer at all
    assert main(["check-config", str(path)]) == 2
    assert f"{path}: (syntax): " in capsys.readouterr().err


# -- 2. announcement templates --------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "请{number.x}号到{window}号窗口", "请{number}号到{window[0]}号窗口",
    "请{number}号到{window}号窗口{window:d}", "请{number:d}号到{window}号窗口",
    "请{number}号到{window:.1}号", "请{number}号到{window}{}", "请{number}号到{window}{0}",
    "请{number}号到{window}号{", "请{number}号到{window}号}", "请{number}号到{window:{number}}",
    "请{number.__class__}号到{window}号窗口", "请{number}号",
])
@pytest.mark.parametrize("key", ["template", "recall_template"])
def test_a_template_that_would_fail_at_run_time_is_named(template: str, key: str) -> None:
    err = refused(minimal(voice={key: template}))
    assert err.key == f"voice.{key}"


@pytest.mark.parametrize("template", ["请{number}号到{window:>3}号窗口", "{window}号窗口请{number}号",
                                      "请{number!s}号到{window}号窗口{{办理}}"])
def test_a_template_that_formats_at_run_time_loads(template: str) -> None:
    assert parse_config(minimal(voice={"template": template}), FILE).voice.template == template


# -- 3. NUL in path keys, and a missing catalog --------------------------------------------


@pytest.mark.parametrize(("raw", "key"), [
    (minimal(cases={"catalog_file": "a\0b.toml"}), "cases.catalog_file"),
    (minimal(hall={"data_dir": "/var/lib/a\0b"}), "hall.data_dir"),
    (minimal(cloud={"secret_file": "s\0"}), "cloud.secret_file"),
    (minimal(cloud={"ca_file": "/etc/ca\0.crt"}), "cloud.ca_file"),
    (minimal(voice={"backend": "segments", "segments_dir": "v\0"}), "voice.segments_dir"),
    (minimal(voice={"player": ["aplay", "-q\0"]}), "voice.player"),
])
def test_nul_in_a_path_key_is_named(raw: dict[str, Any], key: str) -> None:
    err = refused(raw)
    assert (err.key, err.message) == (key, "must not contain a NUL character")


def test_nul_in_a_device_port_is_named() -> None:
    raw = demo()
    raw["devices"][0]["port"] = "dev/bus\0"
    err = refused(raw, DEFAULT_CONFIG)
    assert err.key == "devices[0].port" and "NUL" in err.message


def test_a_missing_catalog_names_the_hall_file_and_its_key(tmp_path: Path) -> None:
    hall = tmp_path / "hall.toml"
    err = refused(minimal(cases={"catalog_file": "nope.toml"}), hall)
    assert err.key == "cases.catalog_file"
    assert err.message == f"no such file: {tmp_path / 'nope.toml'}"
    (tmp_path / "dir.toml").mkdir()
    err = refused(minimal(cases={"catalog_file": "dir.toml"}), hall)
    assert err.key == "cases.catalog_file" and "is a directory" in err.message


# -- 4. ports and URLs ------------------------------------------------------------------------


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "0.0.0.0:99999", "[::1]:65536", "x:00000"])
def test_a_listen_port_out_of_range_is_named(listen: str) -> None:
    err = refused(minimal(hall={"listen": listen}))
    assert err.key == "hall.listen" and "1-65535" in err.message


@pytest.mark.parametrize("listen", ["127.0.0.1:1", "0.0.0.0:65535", "[::]:8080"])
def test_a_listen_port_in_range_loads(listen: str) -> None:
    assert parse_config(minimal(hall={"listen": listen}), FILE).listen == listen


@pytest.mark.parametrize("url", ["mqtt://x:99999", "mqtt://x:0", "mqtts://[::1]:70000",
                                 "mqtt://?x", "mqtt://#", "mqtt://[::1"])
def test_a_bad_mqtt_url_is_named(url: str) -> None:
    assert refused(minimal(cloud={"mqtt_url": url})).key == "cloud.mqtt_url"


@pytest.mark.parametrize("url", ["http://x:99999/e", "http://x:abc/e", "http://[::1/e",
                                 "http://?x", "http://x:0/e", "http://#/e", "http://x\0/e"])
def test_a_bad_evaluation_url_is_named(url: str) -> None:
    assert refused(minimal(cloud={"evaluation_url": url})).key == "cloud.evaluation_url"


@pytest.mark.parametrize(("key", "url"), [
    ("mqtt_url", "mqtts://broker.example.cn:8883"), ("mqtt_url", "mqtt://[::1]:1883"),
    ("mqtt_url", "mqtt://127.0.0.1"), ("evaluation_url", "https://hcp.example.cn:8443/e?a=1"),
    ("evaluation_url", "http://[::1]:8080/evaluations"), ("evaluation_url", "http://x")])
def test_good_cloud_urls_load(key: str, url: str) -> None:
    assert getattr(parse_config(minimal(cloud={key: url}), FILE).cloud, key) == url


# -- 5. the files the cloud links read --------------------------------------------------------

FILE_KEYS = ["secret_file", "ca_file", "password_file"]


@pytest.mark.parametrize("key", FILE_KEYS)
def test_a_missing_cloud_file_is_named(tmp_path: Path, key: str) -> None:
    err = refused(minimal(cloud={key: "nope"}), tmp_path / "hall.toml")
    assert (err.key, err.message) == (f"cloud.{key}", f"no such file: {tmp_path / 'nope'}")


@pytest.mark.parametrize("key", FILE_KEYS)
def test_a_cloud_file_that_is_a_directory_is_named(tmp_path: Path, key: str) -> None:
    err = refused(minimal(cloud={key: str(tmp_path)}), tmp_path / "hall.toml")
    assert err.key == f"cloud.{key}" and "directory" in err.message


def test_a_cloud_file_that_is_a_fifo_is_named_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    err = refused(minimal(cloud={"secret_file": "fifo"}), tmp_path / "hall.toml")
    assert err.key == "cloud.secret_file" and "not a regular file" in err.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_cloud_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    (tmp_path / "secret").chmod(0)
    err = refused(minimal(cloud={"secret_file": "secret"}), tmp_path / "hall.toml")
    assert err.key == "cloud.secret_file" and "cannot be read" in err.message


def test_cert_and_key_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    err = refused(minimal(cloud={"cert_file": "c.pem", "key_file": "k.pem"}),
                  tmp_path / "hall.toml")
    assert err.key == "cloud.key_file" and "no such file" in err.message


def test_cloud_files_beside_the_hall_file_load(tmp_path: Path) -> None:
    for name in ("secret", "ca.crt", "password", "c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    cloud = {"secret_file": "secret", "ca_file": "ca.crt", "password_file": "password",
             "cert_file": "c.pem", "key_file": str(tmp_path / "k.pem")}
    cfg = parse_config(minimal(cloud=cloud), tmp_path / "hall.toml")
    assert cfg.cloud.secret_file == tmp_path / "secret"
    assert cfg.cloud.key_file == tmp_path / "k.pem"


# -- 6. a device's bad_reason ----------------------------------------------------------------


def test_a_bad_reason_that_is_no_reason_of_the_hall_is_named() -> None:
    raw = demo()
    i = next(i for i, d in enumerate(raw["devices"]) if "bad_reason" in d)
    raw["devices"][i]["bad_reason"] = "E99"
    err = refused(raw, DEFAULT_CONFIG)
    assert err.key == f"devices[{i}].bad_reason"
    assert raw["devices"][i]["id"] in err.message and "'E99'" in err.message
    raw["devices"][i]["bad_reason"] = "E05"
    assert parse_config(raw, DEFAULT_CONFIG).devices[i].bad_reason == "E05"


def test_an_evaluator_without_a_bad_reason_is_named() -> None:
    """An evaluator's keys rate but cannot say why; the core takes a 2 or a 1 only with a
    reason: without `bad_reason`, every bad rating from it would be refused and lost."""
    raw = demo()
    i = next(i for i, d in enumerate(raw["devices"]) if d["profile"].startswith("evaluator"))
    del raw["devices"][i]["bad_reason"]
    err = refused(raw, DEFAULT_CONFIG)
    assert err.key == f"devices[{i}].bad_reason"
    assert raw["devices"][i]["id"] in err.message and "E05" in err.message


# -- 7. holidays and workdays are dates ------------------------------------------------------


@pytest.mark.parametrize("key", ["holidays", "workdays"])
def test_a_toml_date_time_is_no_day(key: str) -> None:
    err = refused(minimal(cases={key: [date(2026, 10, 1), datetime(2026, 10, 2, 10, 0)]}))
    assert err.key == f"cases.{key}[1]" and "YYYY-MM-DD" in err.message
    cfg = parse_config(minimal(cases={key: [date(2026, 10, 1)]}), FILE)
    assert getattr(cfg.cases, key) == frozenset({"2026-10-01"})


# -- 8. review channel codes -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["", " ", "x", " 3", "3 ", "３", 3, "12345"])
def test_a_review_channel_code_is_digits(code: Any) -> None:
    err = refused(minimal(review={"channel_codes": {"qr": code}}))
    assert err.key == "review.channel_codes.qr"


def test_review_channel_codes_load() -> None:
    cfg = parse_config(minimal(review={"channel_codes": {"qr": "3", "sms": "7"}}), FILE)
    assert cfg.review.channel_codes == (("qr", "3"), ("sms", "7"))


# -- 10. closes = "24:00" --------------------------------------------------------------------


def _day_cfg(opens: str, closes: str, resets: str = "03:00", enforce: bool = True
             ) -> HallConfig:
    return parse_config(minimal(business_day={"opens": opens, "closes": closes,
                                              "numbering_resets": resets,
                                              "enforce_hours": enforce}), FILE)


def test_closes_at_24_00_is_open_to_the_end_of_the_day() -> None:
    cfg = _day_cfg("08:00", "24:00")
    assert cfg.day.closes == time(0, 0)
    assert not within_hours(at(7, 59, 59), cfg.day)
    assert within_hours(at(8, 0), cfg.day) and within_hours(at(23, 59, 59), cfg.day)
    assert not within_hours(at(0, 0, 0, day=5), cfg.day)
    assert business_day(at(23, 59, 59), cfg.day) == "2024-03-04"
    assert business_day(at(0, 0, 0, day=5), cfg.day) == "2024-03-04"  # resets at 03:00


def test_a_hall_open_around_the_clock_issues_at_23_59() -> None:
    cfg = _day_cfg("00:00", "24:00", resets="00:00")
    state = HallState()
    for n, when in enumerate([at(0, 0), at(23, 59, 30), at(0, 0, 0, day=5)]):
        out = execute(state, cfg, c.IssueTicket(f"t{n}", "A", "kiosk"), when)
        assert out.refusal is None, out.refusal
    assert [t.number for t in state.tickets.values()] == ["A001", "A002", "A001"]
    assert [t.business_day for t in state.tickets.values()] == [
        "2024-03-04", "2024-03-04", "2024-03-05"]


@pytest.mark.parametrize(("opens", "closes", "resets", "key"), [
    ("00:00", "24:00", "12:00", "business_day.numbering_resets"),
    ("08:00", "24:00", "08:00", "business_day.numbering_resets"),
    ("24:00", "24:00", "03:00", "business_day.opens"),
    ("08:00", "24:01", "03:00", "business_day.closes"),
    ("08:00", "17:00", "24:00", "business_day.numbering_resets"),
])
def test_24_00_only_as_closing_time(opens: str, closes: str, resets: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _day_cfg(opens, closes, resets)
    assert info.value.key == key


def test_the_flow_record_counts_opening_hours_to_midnight() -> None:
    raw = copy.deepcopy(FLOW_HALL)
    raw["business_day"].update(opens="20:00", closes="24:00", enforce_hours=True)
    driver = Driver(parse_config(raw, Path("flow-test.toml")))
    driver.issue(at(23, 59, 30), "t1", "A")
    flow = FlowBuilder(driver.cfg)
    flow.feed(driver.log)
    record = flow.day("2024-03-04", at(0, 0, 0, day=5))
    inside = [s for s in record["slots"] if s["in_opening_hours"]]
    assert len(inside) == 8  # 20:00-24:00 in 30-minute slots
    assert record["closes"] == "24:00"  # as people read it, not 00:00
    early = execute(driver.state, driver.cfg, c.IssueTicket("t0", "A", "kiosk"), at(19, 0))
    assert early.refusal is not None and early.refusal.detail.endswith("from 20:00 to 24:00")


def test_the_demo_hall_and_a_24_hour_copy_load(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    path.write_text(text.replace('opens = "08:30"', 'opens = "00:00"')
                    .replace('closes = "17:30"', 'closes = "24:00"')
                    .replace('numbering_resets = "03:00"', 'numbering_resets = "00:00"'),
                    encoding="utf-8")
    cfg = load_config(path)
    assert (cfg.day.opens, cfg.day.closes, cfg.day.numbering_resets) == (
        time(0), time(0), time(0))
