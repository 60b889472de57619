"""Parse and check the item catalog: from the catalog file, and from the cloud's
`catalog.update` command, with the same rules. Every error names the key
(`items[3].materials[0].originals`), and for the file, the file.

Pinyin initials are computed here with pypinyin (docs/dependencies.md): the cloud's items
come without them, and a file may override them (`initials`) for a name pypinyin reads
wrong (polyphonic characters).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

from controller.catalog.model import (
    CASE_TYPES,
    FOLLOW_UP_STEPS,
    ITEM_TYPES,
    LEVEL_NAMES,
    WAYS,
    CaseRules,
    Item,
    Material,
)

CODE = re.compile(r"[0-9A-Za-z_.:/-]{1,50}")  # as case numbers and item codes upstream
MAX_ITEMS = 2000
SHIPPED = Path(__file__).resolve().parents[2] / "config"
MAX_TEXT = 500


class CatalogError(ValueError):
    """A catalog mistake at a dotted key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def initials(name: str) -> str:
    """Pinyin initials of a name, lower case; letters and digits in it are kept as they are
    (so "C1驾驶证" is found by "c1jsz")."""
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER,
                          errors=lambda s: list(s))  # type: ignore[arg-type,return-value]
    return "".join(ch.lower() for part in letters for ch in part if ch.isascii() and ch.isalnum())


class _Table:
    """Pops keys off one table; what is left over is an unknown key."""

    def __init__(self, path: str, table: Any) -> None:
        self.path = path
        if not isinstance(table, dict):
            raise CatalogError(path, "must be a table")
        self.table = dict(table)

    def fail(self, name: str, message: str) -> CatalogError:
        return CatalogError(f"{self.path}.{name}" if name else self.path, message)

    def take(self, name: str, kind: type | tuple[type, ...], what: str, default: Any = ...
             ) -> Any:
        if name not in self.table:
            if default is ...:
                raise self.fail(name, "is required")
            return default
        value = self.table.pop(name)
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(name, f"must be {what}, not {value!r}")
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {what}, not {value!r}")
        return value

    def text(self, name: str, default: Any = ..., max_len: int = MAX_TEXT) -> Any:
        present = name in self.table
        value = self.take(name, str, "a string", default)
        if present:
            value = value.strip()
            if not value or len(value) > max_len:
                raise self.fail(name, f"must be 1-{max_len} characters")
        return value

    def int_(self, name: str, default: Any = ..., lo: int = 0, hi: int = 365) -> Any:
        value = self.take(name, int, "an integer", default)
        if isinstance(value, int) and not lo <= value <= hi:
            raise self.fail(name, f"must be between {lo} and {hi}, not {value}")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.take(name, list, "a list of strings", [])
        out = []
        for i, x in enumerate(value):
            if not isinstance(x, str) or not x.strip() or len(x) > MAX_TEXT:
                raise self.fail(f"{name}[{i}]", f"must be a string of 1-{MAX_TEXT} characters")
            out.append(x.strip())
        return tuple(out)

    def done(self) -> None:
        if self.table:
            raise self.fail(min(self.table), "unknown key")


def _material(t: _Table) -> Material:
    m = Material(
        name=t.text("name", max_len=100),
        originals=t.int_("originals", 0, 0, 20),
        copies=t.int_("copies", 0, 0, 20),
        required=t.take("required", bool, "true or false", True),
        may_follow=t.take("may_follow", bool, "true or false", False),
        note=t.text("note", "", 200),
    )
    if m.originals == 0 and m.copies == 0:
        raise t.fail("originals", "a material needs at least one original or one copy")
    t.done()
    return m


def parse_items(raw: Any, categories: set[str], key: str = "items",
                known: dict[str, Item] | None = None) -> tuple[Item, ...]:
    """A list of item tables, in order: a parent before its children. `known`: items
    already in the catalog, which an update's items may name as parents."""
    if not isinstance(raw, list):
        raise CatalogError(key, "must be a list of tables")
    if len(raw) > MAX_ITEMS:
        raise CatalogError(key, f"at most {MAX_ITEMS} items")
    items: dict[str, Item] = {}
    has_children: set[str] = set()
    for i, entry in enumerate(raw):
        t = _Table(f"{key}[{i}]", entry)
        code = t.text("code", max_len=50)
        if not CODE.fullmatch(code):
            raise t.fail("code", "must be 1-50 letters, digits or _.:/-")
        if code in items:
            raise t.fail("code", f"duplicate item code {code!r}")
        name = t.text("name", max_len=100)
        parent = t.text("parent", None, 50)
        level = 0
        inherited: str | None = None
        if parent is not None:
            above = items.get(parent) or (known or {}).get(parent)
            if above is None:
                raise t.fail("parent", f"no item {parent!r} above this one")
            level = LEVEL_NAMES.index(above.level) + 1
            if level >= len(LEVEL_NAMES):
                raise t.fail("parent", "items go three levels deep: main, sub, leaf")
            inherited = above.category
            has_children.add(parent)
        category = t.text("category", inherited, 1)
        if category is not None and category not in categories:
            raise t.fail("category", f"unknown category {category!r}; known: "
                         + ", ".join(sorted(categories)))
        item_type = t.text("item_type", None, 20)
        if item_type is not None and item_type not in ITEM_TYPES:
            raise t.fail("item_type", "must be one of " + ", ".join(ITEM_TYPES))
        case_type = t.text("case_type", None, 10)
        if case_type is not None and case_type not in CASE_TYPES:
            raise t.fail("case_type", "must be instant (即办件) or promised (承诺件)")
        promised_days = t.int_("promised_days", 0, 0, 365)
        if case_type == "promised" and not promised_days:
            raise t.fail("promised_days", "a promised case needs its promised working days (1-365)")
        if case_type != "promised" and promised_days:
            raise t.fail("promised_days", "only a promised case has promised days")
        legal_days = t.int_("legal_days", 0, 0, 365)
        if legal_days and promised_days > legal_days:
            raise t.fail("promised_days", "cannot exceed legal_days")
        materials = []
        for j, m in enumerate(t.take("materials", list, "a list of tables", [])):
            materials.append(_material(_Table(f"{t.path}.materials[{j}]", m)))
        ways = t.texts("ways")
        for j, way in enumerate(ways):
            if way not in WAYS:
                raise t.fail(f"ways[{j}]", "must be one of " + ", ".join(WAYS))
        if len(set(ways)) != len(ways):
            raise t.fail("ways", "names a way twice")
        follows = any(m.may_follow for m in materials)
        if follows and "容缺办" not in ways:
            raise t.fail("ways", "a material may follow later (may_follow): add 容缺办")
        if "容缺办" in ways and not follows:
            raise t.fail("ways", "容缺办 needs a material with may_follow = true")
        own_initials = t.text("initials", None, 100)
        if own_initials is not None and not re.fullmatch(r"[a-z0-9]{1,100}", own_initials):
            raise t.fail("initials", "must be lower-case letters and digits")
        item = Item(
            code=code, name=name, level=LEVEL_NAMES[level], parent=parent, category=category,
            item_type=item_type, case_type=case_type, promised_days=promised_days,
            legal_days=legal_days, system=t.text("system", "", 100),
            conditions=t.texts("conditions"), materials=tuple(materials),
            review_points=t.texts("review_points"), ways=ways,
            initials=own_initials or initials(name),
        )
        t.done()
        items[code] = item
    out = []
    for i, item in enumerate(items.values()):
        servable = item.code not in has_children
        if servable and (item.category is None or item.case_type is None):
            missing = "category" if item.category is None else "case_type"
            raise CatalogError(f"{key}[{i}].{missing}",
                               "is required for an item served at a window (one without sub-items)")
        out.append(dataclasses.replace(item, servable=servable))
    return tuple(out)


def load_catalog(file: Path, categories: set[str]) -> tuple[Item, ...]:
    """The catalog file: `[[items]]` tables. Raises ConfigError naming file and key."""
    from controller.config.loader import ConfigError, read_toml

    raw = read_toml(file)
    unknown = sorted(set(raw) - {"items"})
    if unknown:
        raise ConfigError(file, unknown[0], "unknown key")
    try:
        return parse_items(raw.get("items", []), categories)
    except CatalogError as exc:
        raise ConfigError(file, exc.key, exc.message) from None


def _date(key: str, value: Any) -> str:
    # A TOML date-time is a Python datetime, a date subclass: a day is a date, no time.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise CatalogError(key, f"must be a date YYYY-MM-DD, not {value!r}")


def parse_case_rules(table: Any, file: Path, categories: set[str]) -> CaseRules:
    """`[cases]` of the hall file. Raises ConfigError naming file and key."""
    from controller.config.loader import ConfigError

    try:
        t = _Table("cases", table)
        catalog = t.text("catalog_file", None, 300)
        if catalog is not None and "\0" in catalog:
            raise t.fail("catalog_file", "must not contain a NUL character")
        pickup = t.text("pickup_category", None, 1)
        if pickup is not None and pickup not in categories:
            raise t.fail("pickup_category", f"unknown category {pickup!r}")
        holidays = frozenset(_date(f"cases.holidays[{i}]", d)
                             for i, d in enumerate(t.take("holidays", list, "a list", [])))
        workdays = frozenset(_date(f"cases.workdays[{i}]", d)
                             for i, d in enumerate(t.take("workdays", list, "a list", [])))
        if holidays & workdays:
            raise t.fail("workdays", f"{min(holidays & workdays)} is a holiday too")
        default = CaseRules()
        steps = t.take("follow_up_days", dict, "a table", None)
        follow_up = default.follow_up_days
        if steps is not None:
            s = _Table("cases.follow_up_days", steps)
            follow_up = tuple((step, s.int_(step, dict(default.follow_up_days)[step], 0, 90))
                              for step in FOLLOW_UP_STEPS)
            s.done()
            days = [d for _, d in follow_up]
            if days != sorted(days):
                raise t.fail("follow_up_days", "deadlines must not go back: verify <= rectify "
                             "<= revisit <= close")
        rules = CaseRules(
            catalog_file=None, pickup_category=pickup, holidays=holidays, workdays=workdays,
            missing_materials_days=t.int_("missing_materials_days", 5, 1, 90),
            follow_up_days=follow_up, complaint_days=t.int_("complaint_days", 5, 1, 90),
        )
        t.done()
    except CatalogError as exc:
        raise ConfigError(file, exc.key, exc.message) from None
    if catalog is None:
        return rules
    path = Path(catalog)
    if not path.is_absolute():
        # Beside the hall file; failing that, among the catalogs shipped in config/, so that
        # a copy of the demo hall file elsewhere still finds the demo catalog.
        shipped = SHIPPED / path
        path = file.parent / path
        if not path.exists() and shipped.exists():
            path = shipped
    return dataclasses.replace(rules, catalog_file=path)


def with_catalog(rules: CaseRules, categories: set[str], hall_file: Path | None = None
                 ) -> CaseRules:
    """The rules with the catalog file's items loaded: done after the whole hall file is
    checked, so that a mistake in the hall file is reported before a missing catalog. A
    catalog that is missing or unreadable is the hall file's `cases.catalog_file` mistake
    (given `hall_file`); a mistake inside the catalog names the catalog file and its key."""
    from controller.config.loader import ConfigError, unreadable

    if rules.catalog_file is None:
        return rules
    if hall_file is not None and (problem := unreadable(rules.catalog_file)):
        raise ConfigError(hall_file, "cases.catalog_file", problem)
    return dataclasses.replace(rules, items=load_catalog(rules.catalog_file, categories))
