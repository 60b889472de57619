"""The item catalog: the demo catalog file, the loader's errors (file and key named),
search by name, code and pinyin initials, and updates as events."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.catalog.loader import initials, parse_items
from controller.catalog.model import WAYS
from controller.config.loader import ConfigError, load_config
from controller.core import catalog
from controller.core.catalog import UpdateCatalog
from controller.core.state import HallState
from tests.cases.helpers import CFG, Hall

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_catalog_is_a_county_hall() -> None:
    items = CFG.cases.items
    served = [i for i in items if i.servable]
    assert len(served) >= 30
    assert {i.category for i in served} >= set("ABCDEFG")
    assert {i.level for i in items} == {"main", "sub", "leaf"}
    assert {i.case_type for i in served} == {"instant", "promised"}
    assert all(i.promised_days > 0 for i in served if i.case_type == "promised")
    assert {w for i in served for w in i.ways} == set(WAYS)
    assert any(m.may_follow for i in served for m in i.materials)
    assert CFG.cases.pickup_category == "H"


def test_search_by_code_name_and_initials() -> None:
    state = HallState()
    by_initials = catalog.search(state, CFG, "zfgjjtq")
    assert [i.name for i in by_initials][:2] == ["住房公积金提取（租房）", "住房公积金提取（购房）"]
    assert [i.code for i in catalog.search(state, CFG, "330100-crj-001")] == ["330100-CRJ-001"]
    assert catalog.search(state, CFG, "护照")[0].name == "普通护照签发"
    assert catalog.search(state, CFG, "HZ")[0].name == "普通护照签发"  # case-insensitive
    # A group's name finds its leaves; groups themselves are not offered.
    found = catalog.search(state, CFG, "抵押权登记")
    assert found and all(i.servable for i in found)
    assert {i.category for i in catalog.search(state, CFG, "", "F")} == {"F"}
    assert catalog.search(state, CFG, "没有这个事项") == []


def test_initials_keep_letters_and_digits() -> None:
    assert initials("不动产登记") == "bdcdj"
    assert initials("C1驾驶证") == "c1jsz"


def _write(tmp_path: Path, catalog_text: str) -> Path:
    hall = (ROOT / "config" / "demo-hall.toml").read_text(encoding="utf-8")
    (tmp_path / "cat.toml").write_text(catalog_text, encoding="utf-8")
    hall = hall.replace('catalog_file = "demo-catalog.toml"', 'catalog_file = "cat.toml"')
    path = tmp_path / "hall.toml"
    path.write_text(hall, encoding="utf-8")
    return path


LEAF = 'code = "X-1"\nname = "测试事项"\ncategory = "A"\ncase_type = "instant"\n'


@pytest.mark.parametrize("text, key, words", [
    (f"[[items]]\n{LEAF}materials = [{{ name = \"身份证\", originals = -1 }}]\n",
     "items[0].materials[0].originals", "between"),
    (f"[[items]]\n{LEAF}colour = \"red\"\n", "items[0].colour", "unknown key"),
    ("[[items]]\ncode = \"X-1\"\nname = \"测试\"\ncategory = \"Z\"\ncase_type = \"instant\"\n",
     "items[0].category", "unknown category"),
    ("[[items]]\ncode = \"X-1\"\nname = \"测试\"\ncategory = \"A\"\ncase_type = \"promised\"\n",
     "items[0].promised_days", "promised"),
    ("[[items]]\ncode = \"X-1\"\nname = \"测试\"\ncategory = \"A\"\n",
     "items[0].case_type", "required"),
    (f"[[items]]\n{LEAF}\n[[items]]\n{LEAF}", "items[1].code", "duplicate"),
    (f"[[items]]\n{LEAF}parent = \"NOPE\"\n", "items[0].parent", "above"),
    (f"[[items]]\n{LEAF}ways = [\"随便办\"]\n", "items[0].ways[0]", "one of"),
    (f"[[items]]\n{LEAF}materials = [{{ name = \"发票\", copies = 1, may_follow = true }}]\n",
     "items[0].ways", "容缺办"),
    (f"[[items]]\n{LEAF}ways = [\"容缺办\"]\n", "items[0].ways", "may_follow"),
])
def test_a_bad_catalog_names_the_file_and_key(tmp_path: Path, text: str, key: str,
                                              words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert err.value.file == tmp_path / "cat.toml"
    assert err.value.key == key
    assert words in err.value.message


def test_a_missing_catalog_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    (tmp_path / "cat.toml").unlink()
    with pytest.raises(ConfigError) as err:
        load_config(path)
    # named by the hall file and its key, which is what the engineer edits
    assert err.value.file == path and err.value.key == "cases.catalog_file"
    assert "cat.toml" in err.value.message


def test_case_rules_are_checked(tmp_path: Path) -> None:
    hall = (ROOT / "config" / "demo-hall.toml").read_text(encoding="utf-8")
    path = tmp_path / "hall.toml"
    path.write_text(hall.replace('pickup_category = "H"', 'pickup_category = "Q"'), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "cases.pickup_category"
    path.write_text(hall.replace('"2026-10-01", "2026-10-02"', '"2026-10-01", "2026-13-02"'),
                    "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "cases.holidays[1]"


def _leaf(code: str, name: str, **extra: object) -> dict[str, object]:
    return {"code": code, "name": name, "category": "F", "case_type": "instant", **extra}


def test_an_update_merges_replaces_and_only_goes_forward() -> None:
    h = Hall()
    new = parse_items([_leaf("330100-CRJ-009", "出入境记录查询")], set(CFG.categories),
                      known=catalog.items(h.state, CFG))
    h.ok(UpdateCatalog(2, "merge", new, ("330100-CRJ-004",)))
    codes = catalog.items(h.state, CFG)
    assert "330100-CRJ-009" in codes and "330100-CRJ-004" not in codes
    assert catalog.search(h.state, CFG, "crjjlcx")[0].code == "330100-CRJ-009"
    assert h.refused(UpdateCatalog(2, "merge", new)).code == "stale_catalog"
    assert h.refused(UpdateCatalog(3, "merge", (), ("NOPE",))).code == "item_not_found"
    # A leaf under an existing sub item: the sub item is now a group.
    child = parse_items([{**_leaf("330100-SB-004-01", "失业保险金申领（网上）"),
                          "parent": "330100-SB-004", "category": "B"}],
                        set(CFG.categories), known=catalog.items(h.state, CFG))
    h.ok(UpdateCatalog(3, "merge", child))
    assert not catalog.items(h.state, CFG)["330100-SB-004"].servable
    only = parse_items([_leaf("N-1", "唯一事项")], set(CFG.categories))
    h.ok(UpdateCatalog(4, "replace", only))
    assert list(catalog.items(h.state, CFG)) == ["N-1"]
    # Rebuilt from the events alone, as at a restart.
    again = HallState()
    from controller.core.state import apply

    for e in h.events:
        apply(again, e.type, e.data, h.now)
    assert list(catalog.items(again, CFG)) == ["N-1"]
    assert catalog.overlay(again).version == 4


def test_a_ticket_by_item_is_issued_in_its_category_and_records_the_item() -> None:
    from controller.core.catalog import IssueByItem

    h = Hall()
    events = h.ok(IssueByItem("t-1", "330100-GJJ-001", "kiosk"))
    assert events[0].data["category"] == "C" and events[0].data["item_code"] == "330100-GJJ-001"
    assert h.state.tickets["t-1"].item_code == "330100-GJJ-001"
    assert h.refused(IssueByItem("t-2", "330100-GJJ", "kiosk")).code == "item_not_servable"
    assert h.refused(IssueByItem("t-3", "NOPE", "kiosk")).status == 404
    assert h.refused(IssueByItem("t-4", "330100-GJJ-001", "kiosk", category="A")).code == (
        "category_mismatch")


@pytest.mark.parametrize("body, reason, words", [
    ({"items": []}, "missing_field", "body.version"),
    ({"version": True, "items": []}, "bad_field", "body.version"),
    ({"version": 2}, "missing_field", "body.items"),
    ({"version": 2, "mode": "swap", "items": []}, "bad_field", "body.mode"),
    ({"version": 2, "items": [], "remove": ["bad code"]}, "bad_field", "body.remove"),
    ({"version": 2, "items": [{"code": "X-1", "name": "测试", "category": "A"}]},
     "missing_field", "body.items[0].case_type"),
    ({"version": 2, "items": [_leaf("X-1", "测试", promised_days=3)]}, "bad_field",
     "body.items[0].promised_days"),
    ({"version": 2, "items": [_leaf("X-1", "测试", parent="NOPE")]}, "bad_field",
     "body.items[0].parent"),
])
def test_a_malformed_catalog_update_names_the_key(body: dict[str, object], reason: str,
                                                  words: str) -> None:
    import json

    from controller.sync.downlink import DownlinkHandler, Malformed

    handler = DownlinkHandler(CFG, None, b"k" * 32)  # type: ignore[arg-type]
    handler.writer = type("W", (), {"state": HallState()})()  # type: ignore[assignment]
    payload = {"v": 1, "id": "c-1", "kind": "catalog.update", "body": body}
    with pytest.raises(Malformed) as err:
        handler.parse(json.dumps(payload).encode())
    assert err.value.reason == reason and words in err.value.detail


def test_a_merge_may_hang_items_under_the_catalog_in_force() -> None:
    import json

    from controller.sync.downlink import DownlinkHandler

    handler = DownlinkHandler(CFG, None, b"k" * 32)  # type: ignore[arg-type]
    handler.writer = type("W", (), {"state": HallState()})()  # type: ignore[assignment]
    body = {"version": 2, "items": [_leaf("330100-CRJ-009", "出入境记录查询",
                                          parent="330100-CRJ")]}
    command = handler.parse(json.dumps({"v": 1, "id": "c", "kind": "catalog.update",
                                        "body": body}).encode())
    [item] = command.inner.items  # type: ignore[attr-defined]
    assert (item.level, item.category, item.initials) == ("sub", "F", "crjjlcx")
