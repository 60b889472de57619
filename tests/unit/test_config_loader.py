"""The hall configuration loader in `controller.config.loader`.

Covers the demo hall loading with the values it declares, the defaults of a minimal file,
and that every kind of mistake raises ConfigError naming the file and the dotted key:
unknown keys at every level, wrong types, out-of-range numbers, bad prefixes, duplicates,
unknown categories in a window, bad time zones and clock times, closing before opening,
a numbering reset inside opening hours, unknown or repeated dispatch rules, unreadable or
malformed files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from controller.config.loader import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from controller.config.model import DISPATCH_RULES, Landing, Post
from tests.unit.test_engine import hall_dict

FILE = Path("halls/test.toml")
Edit = Callable[[dict[str, Any]], None]


def error_of(edit: Edit) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(hall_dict(edit), FILE)
    err = info.value
    assert err.file == FILE
    assert str(err) == f"{FILE}: {err.key}: {err.message}"
    return err


def minimal() -> dict[str, Any]:
    return {
        "hall": {"id": "h1", "name": "最小大厅"},
        "business_day": {"opens": "09:00", "closes": "17:00"},
        "categories": [{"prefix": "A", "name": "综合"}],
        "windows": [{"number": 1, "categories": {"A": 1}}],
    }


# -- what loads ----------------------------------------------------------------------------


def test_demo_config_loads() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.source == DEFAULT_CONFIG
    assert (cfg.hall_id, cfg.hall_name) == ("demo-330100", "示范区政务服务中心")
    assert (cfg.data_dir, cfg.listen) == (None, None)
    assert str(cfg.day.timezone) == "Asia/Shanghai"
    assert (cfg.day.opens, cfg.day.closes, cfg.day.numbering_resets, cfg.day.enforce_hours) == (
        time(8, 30), time(17, 30), time(3, 0), False)
    assert (cfg.queue.recall_limit, cfg.queue.suspend_return_min, cfg.queue.dispatch) == (
        2, 15, ("priority", "directed", "overdue", "ratio"))
    assert [p.name for p in cfg.priorities] == ["appointment", "green"]
    assert cfg.priority_rank("appointment") == 0 and cfg.priority_rank("green") == 1
    assert cfg.priority_rank("vip") is None and cfg.priority_rank(None) is None
    assert list(cfg.categories) == list("ABCDEFGHJ")
    a = cfg.categories["A"]
    assert (a.name, a.daily_quota, a.service_level_min, a.default_service_min,
            a.per_person_daily_limit, a.transfer_landing) == (
        "不动产登记", 300, 30, 12.0, 2, Landing.FRONT)
    assert cfg.categories["F"].transfer_landing is Landing.BY_ISSUE_TIME
    assert cfg.categories["G"].transfer_landing is Landing.BACK
    assert cfg.categories["H"].per_person_daily_limit == 0
    assert list(cfg.windows) == list(range(1, 18))
    assert cfg.windows[1].weights == {"A": 2, "D": 1}
    assert list(cfg.windows[7].weights) == ["C", "B"]  # configured order is kept
    assert cfg.windows[13].post is Post.CONSULT and cfg.windows[15].post is Post.PICKUP
    assert cfg.windows_serving("A") == [1, 2, 3, 8]
    assert cfg.windows_serving("B") == [4, 5, 6, 7]


def test_defaults_of_a_minimal_file() -> None:
    cfg = parse_config(minimal(), FILE)
    assert str(cfg.day.timezone) == "Asia/Shanghai"
    assert (cfg.day.numbering_resets, cfg.day.enforce_hours) == (time(3, 0), True)
    assert (cfg.queue.recall_limit, cfg.queue.suspend_return_min) == (2, 15)
    assert cfg.queue.dispatch == DISPATCH_RULES
    assert cfg.priorities == ()
    a = cfg.categories["A"]
    assert (a.daily_quota, a.service_level_min, a.transfer_landing, a.per_person_daily_limit,
            a.default_service_min) == (999, 30, Landing.FRONT, 0, 8.0)
    w = cfg.windows[1]
    assert (w.name, w.post, w.weights) == ("1号窗口", Post.INTAKE, {"A": 1})
    assert (cfg.cloud.receipts, cfg.cloud.receipt_wait_s) == (False, 30.0)
    assert (cfg.cloud.batch_max_bytes, cfg.cloud.batch_linger_ms) == (256 * 1024, 50)


def test_optional_hall_keys() -> None:
    raw = minimal()
    raw["hall"].update(data_dir="/var/lib/hall", listen="0.0.0.0:8080")
    raw["priority_groups"] = [{"name": "green"}]
    raw["queue"] = {"dispatch": []}
    cfg = parse_config(raw, FILE)
    assert (cfg.data_dir, cfg.listen) == (Path("/var/lib/hall"), "0.0.0.0:8080")
    assert cfg.priorities[0].label == "green"
    assert cfg.queue.dispatch == ()
    raw["hall"]["listen"] = "[::1]:8080"
    assert parse_config(raw, FILE).listen == "[::1]:8080"


def test_load_config_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    path.write_text(
        '[hall]\nid = "x"\nname = "X"\n'
        '[business_day]\nopens = "09:00"\ncloses = "12:00"\n'
        '[[categories]]\nprefix = "Q"\nname = "q"\n'
        '[[windows]]\nnumber = 3\ncategories = { Q = 1 }\n',
        encoding="utf-8",
    )
    cfg = load_config(str(path))
    assert (cfg.source, list(cfg.categories), list(cfg.windows)) == (path, ["Q"], [3])


# -- unknown keys at every level -----------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda r: r.update(extra=1), "extra"),
        (lambda r: r["hall"].update(nmae="x"), "hall.nmae"),
        (lambda r: r["business_day"].update(open="08:00"), "business_day.open"),
        (lambda r: r["queue"].update(recall=3), "queue.recall"),
        (lambda r: r["categories"][1].update(quota=3), "categories[1].quota"),
        (lambda r: r["windows"][2].update(weight=3), "windows[2].weight"),
        (lambda r: r["priority_groups"][1].update(rank=1), "priority_groups[1].rank"),
        (lambda r: r["windows"][0]["categories"].update(Z=1), "windows[0].categories.Z"),
    ],
)
def test_unknown_keys_are_named(edit: Edit, key: str) -> None:
    err = error_of(edit)
    assert err.key == key
    assert "unknown" in err.message


def test_first_unknown_key_in_sorted_order() -> None:
    err = error_of(lambda r: r["hall"].update(zz=1, aa=2))
    assert (err.key, err.message) == ("hall.aa", "unknown key")


# -- wrong types and values ----------------------------------------------------------------


def _set(section: str, name: str, value: Any, index: int | None = None) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        target = raw[section] if index is None else raw[section][index]
        target[name] = value
    return edit


@pytest.mark.parametrize(
    ("edit", "key", "fragment"),
    [
        (_set("hall", "name", 5), "hall.name", "must be a string"),
        (_set("hall", "name", "  "), "hall.name", "must not be empty"),
        (_set("hall", "id", "大厅"), "hall.id", "letters, digits"),
        (_set("hall", "listen", "8080"), "hall.listen", "HOST:PORT"),
        (_set("business_day", "enforce_hours", "yes"), "business_day.enforce_hours",
         "true or false"),
        (_set("business_day", "opens", "8:30"), "business_day.opens", "HH:MM"),
        (_set("business_day", "closes", "24:01"), "business_day.closes", "HH:MM"),
        (_set("business_day", "opens", "24:00"), "business_day.opens", "HH:MM"),
        (_set("business_day", "opens", time(8, 30)), "business_day.opens", "must be a string"),
        (_set("queue", "recall_limit", 11), "queue.recall_limit", "between 0 and 10"),
        (_set("queue", "recall_limit", 1.5), "queue.recall_limit", "an integer"),
        (_set("queue", "suspend_return_min", 0), "queue.suspend_return_min", "between 1"),
        (_set("queue", "dispatch", "ratio"), "queue.dispatch", "must be a list"),
        (_set("categories", "daily_quota", "10", 0), "categories[0].daily_quota", "an integer"),
        (_set("categories", "daily_quota", True, 0), "categories[0].daily_quota",
         "an integer, not True"),
        (_set("categories", "daily_quota", 1000, 0), "categories[0].daily_quota",
         "between 1 and 999"),
        (_set("categories", "daily_quota", 0, 0), "categories[0].daily_quota",
         "between 1 and 999"),
        (_set("categories", "service_level_min", -5, 1), "categories[1].service_level_min",
         "between"),
        (_set("categories", "default_service_min", 0, 2), "categories[2].default_service_min",
         "positive"),
        (_set("categories", "default_service_min", "8", 2), "categories[2].default_service_min",
         "a number"),
        (_set("categories", "transfer_landing", "middle", 0), "categories[0].transfer_landing",
         "front, by_issue_time, back"),
        (_set("categories", "name", None, 0), "categories[0].name", "must be a string"),
        (_set("windows", "number", "1", 0), "windows[0].number", "an integer"),
        (_set("windows", "number", 0, 0), "windows[0].number", "between 1 and 999"),
        (_set("windows", "post", "cashier", 1), "windows[1].post", "intake"),
        (_set("windows", "categories", ["A"], 1), "windows[1].categories", "a table"),
        (_set("windows", "categories", {}, 1), "windows[1].categories", "at least one"),
        (lambda r: r["windows"][0]["categories"].update(A=0), "windows[0].categories.A",
         "1-100"),
        (lambda r: r["windows"][0]["categories"].update(A=True), "windows[0].categories.A",
         "1-100"),
        (lambda r: r["windows"][0]["categories"].update(A="2"), "windows[0].categories.A",
         "1-100"),
        (_set("priority_groups", "name", "Green", 1), "priority_groups[1].name", "lower-case"),
        (_set("priority_groups", "name", "appointment", 1), "priority_groups[1].name",
         "duplicate"),
        (lambda r: r.update(categories={"A": {}}), "categories", "must be a list"),
        (lambda r: r["categories"].__setitem__(1, "B"), "categories[1]", "must be a table"),
        (lambda r: r.update(windows=[]), "windows", "at least one"),
        (lambda r: r.update(categories=[]), "categories", "at least one"),
        (lambda r: r.pop("hall"), "hall", "is required"),
        (lambda r: r["business_day"].pop("opens"), "business_day.opens", "is required"),
        (lambda r: r["categories"][0].pop("name"), "categories[0].name", "is required"),
        (lambda r: r["windows"][3].pop("categories"), "windows[3].categories", "is required"),
        (lambda r: r.update(hall="x"), "hall", "a table"),
        (lambda r: r.setdefault("cloud", {}).update(receipt_wait_s=0), "cloud.receipt_wait_s",
         "positive"),
        (lambda r: r.setdefault("cloud", {}).update(batch_max_bytes=1000),
         "cloud.batch_max_bytes", "between 4096"),
        (lambda r: r.setdefault("cloud", {}).update(batch_linger_ms=-1),
         "cloud.batch_linger_ms", "between 0 and 5000"),
        (lambda r: r.setdefault("cloud", {}).update(receipt_wait_s="30"),
         "cloud.receipt_wait_s", "a number"),
    ],
)
def test_bad_values_are_named(edit: Edit, key: str, fragment: str) -> None:
    err = error_of(edit)
    assert err.key == key
    assert fragment in err.message


@pytest.mark.parametrize("prefix", ["AB", "a", "1", "", "Ä", " A"])
def test_bad_prefix(prefix: str) -> None:
    err = error_of(_set("categories", "prefix", prefix, 1))
    assert err.key == "categories[1].prefix"


def test_duplicate_prefix() -> None:
    err = error_of(_set("categories", "prefix", "A", 2))
    assert (err.key, err.message) == ("categories[2].prefix", "duplicate prefix 'A'")


def test_duplicate_window() -> None:
    err = error_of(_set("windows", "number", 1, 3))
    assert (err.key, err.message) == ("windows[3].number", "duplicate window 1")


def test_unknown_category_in_a_window() -> None:
    err = error_of(lambda r: r["windows"][1]["categories"].update(Q=1))
    assert (err.key, err.message) == ("windows[1].categories.Q", "unknown category 'Q'")


def test_category_served_by_no_window() -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["windows"][2]["categories"] = {"B": 1}
        raw["windows"][3]["categories"] = {"B": 1}
    err = error_of(edit)
    assert (err.key, err.message) == ("windows", "no window serves category 'C'")


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "Asia", "../etc/passwd", "Asia/"])
def test_bad_timezone(tz: str) -> None:
    err = error_of(_set("business_day", "timezone", tz))
    assert (err.key, err.message) == ("business_day.timezone", f"unknown time zone {tz!r}")


@pytest.mark.parametrize(("opens", "closes"), [("17:30", "08:30"), ("09:00", "09:00")])
def test_closes_before_opens(opens: str, closes: str) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["business_day"].update(opens=opens, closes=closes, numbering_resets="03:00")
    err = error_of(edit)
    assert (err.key, err.message) == ("business_day.closes", "must be later than opens")


@pytest.mark.parametrize("resets", ["08:30", "12:00", "17:29"])
def test_numbering_reset_inside_opening_hours(resets: str) -> None:
    err = error_of(_set("business_day", "numbering_resets", resets))
    assert (err.key, err.message) == ("business_day.numbering_resets",
                                      "must be outside opening hours")


@pytest.mark.parametrize("resets", ["00:00", "08:29", "17:30", "23:59"])
def test_numbering_reset_outside_opening_hours(resets: str) -> None:
    cfg = parse_config(hall_dict(_set("business_day", "numbering_resets", resets)), FILE)
    assert cfg.day.numbering_resets.strftime("%H:%M") == resets


def test_unknown_dispatch_rule() -> None:
    err = error_of(_set("queue", "dispatch", ["priority", "random"]))
    assert err.key == "queue.dispatch"
    assert err.message == ("unknown rule 'random'; known: priority, directed, overdue, ratio")


def test_dispatch_rule_named_twice() -> None:
    err = error_of(_set("queue", "dispatch", ["ratio", "priority", "ratio"]))
    assert (err.key, err.message) == ("queue.dispatch", "names a rule twice")


def test_dispatch_order_is_kept() -> None:
    cfg = parse_config(hall_dict(_set("queue", "dispatch", ["ratio", "overdue"])), FILE)
    assert cfg.queue.dispatch == ("ratio", "overdue")


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_default_service_min_must_be_finite(value: float) -> None:
    err = error_of(_set("categories", "default_service_min", value, 0))
    assert err.key == "categories[0].default_service_min"


# -- the file itself -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key, info.value.message) == (path, "(file)",
                                                                     "no such file")
    assert str(path) in str(info.value)


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[hall]\nid = "x\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (path, "(syntax)")
    assert "line 2" in info.value.message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('[hall]\nname = "大厅"\n'.encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (path, "(file)")
    assert info.value.message.startswith("cannot be read")


def test_a_native_toml_time_is_refused_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace('opens = "08:30"', "opens = 08:30:00")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (path, "business_day.opens")


def test_an_error_in_a_real_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        "categories = { B = 3, C = 1 }", "categories = { B = 3, X = 1 }", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (path, "windows[3].categories.X")
    assert str(info.value).startswith(f"{path}: windows[3].categories.X: ")


@pytest.mark.parametrize(
    ("value", "message"),
    [(["success", 1], "non-empty strings"), ("success", "must be a list"),
     ([""], "non-empty strings")],
)
def test_review_success_results_are_strings(value: Any, message: str) -> None:
    err = error_of(lambda r: r.setdefault("review", {}).update(success_results=value))
    assert err.key == "review.success_results"
    assert message in err.message


def test_review_real_name_settings() -> None:
    raw = minimal()
    raw["review"] = {"real_name": False, "identity_retention_h": 12,
                     "success_results": ["success", "0"]}
    cfg = parse_config(raw, Path("x.toml"))
    assert cfg.review.real_name is False and cfg.review.identity_retention_h == 12.0
    assert cfg.review.success_results == ("success", "0")
    assert error_of(lambda r: r.setdefault("review", {}).update(
        identity_retention_h=0)).key == "review.identity_retention_h"
