"""The item catalog (事项) and the hall's case rules as plain frozen data.

Kept apart from `controller.config.model` so that the catalog can be parsed from a file and
from a cloud command alike; `HallConfig.cases` holds a `CaseRules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The "six ways" (六办) of 5.1.2, as the standard names them. Kept in Chinese: they are
# what clerks and installers read, and there is no upstream code table for them.
WAYS: tuple[str, ...] = ("自助办", "马上办", "容缺办", "全网办", "一证办", "就近办")
# Item types of the national data set (00 行政许可 … 20 公共服务), by name.
ITEM_TYPES: tuple[str, ...] = (
    "行政许可", "行政处罚", "行政强制", "行政征收", "行政给付", "行政检查", "行政确认",
    "行政奖励", "行政裁决", "其他行政权力", "公共服务",
)
CASE_TYPES: tuple[str, ...] = ("instant", "promised")  # 即办件 / 承诺件
CASE_TYPE_NAMES = {"instant": "即办件", "promised": "承诺件"}
LEVEL_NAMES = ("main", "sub", "leaf")  # 主项 / 子项 / 孙项
FOLLOW_UP_STEPS: tuple[str, ...] = ("verify", "rectify", "revisit", "close")


@dataclass(frozen=True, slots=True)
class Material:
    """One material of an item (5.1.2 h): how many originals and copies, and whether it
    may be handed in after acceptance (容缺受理)."""

    name: str
    originals: int = 0
    copies: int = 0
    required: bool = True
    may_follow: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "originals": self.originals, "copies": self.copies,
                "required": self.required, "may_follow": self.may_follow, "note": self.note}


@dataclass(frozen=True, slots=True)
class Item:
    """A catalog entry. Entries with children (main and sub items that are split further)
    only group; the others are servable: a ticket can be taken and a case accepted for them."""

    code: str
    name: str
    level: str  # main, sub or leaf
    parent: str | None = None
    category: str | None = None
    item_type: str | None = None
    case_type: str | None = None
    promised_days: int = 0  # working days, promised cases only
    legal_days: int = 0
    system: str = ""  # 受理使用系统
    conditions: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()
    review_points: tuple[str, ...] = ()
    ways: tuple[str, ...] = ()
    initials: str = ""  # pinyin initials of the name, lower case, for search
    servable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "level": self.level, "parent": self.parent,
            "category": self.category, "item_type": self.item_type,
            "case_type": self.case_type, "promised_days": self.promised_days,
            "legal_days": self.legal_days, "system": self.system,
            "conditions": list(self.conditions),
            "materials": [m.to_dict() for m in self.materials],
            "review_points": list(self.review_points), "ways": list(self.ways),
            "initials": self.initials, "servable": self.servable,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Item:
        """From a committed event (already validated when it was decided)."""
        return Item(
            code=d["code"], name=d["name"], level=d["level"], parent=d.get("parent"),
            category=d.get("category"), item_type=d.get("item_type"),
            case_type=d.get("case_type"), promised_days=int(d.get("promised_days") or 0),
            legal_days=int(d.get("legal_days") or 0), system=d.get("system") or "",
            conditions=tuple(d.get("conditions") or ()),
            materials=tuple(Material(**m) for m in d.get("materials") or ()),
            review_points=tuple(d.get("review_points") or ()), ways=tuple(d.get("ways") or ()),
            initials=d.get("initials") or "", servable=bool(d.get("servable", True)),
        )


@dataclass(frozen=True, slots=True)
class CaseRules:
    """`[cases]` of the hall file: the catalog it loads, working days, deadlines."""

    catalog_file: Path | None = None
    items: tuple[Item, ...] = ()  # the catalog file's items, in file order
    pickup_category: str | None = None  # 出件: where a citizen with a ready case queues
    holidays: frozenset[str] = frozenset()  # YYYY-MM-DD: no work although a weekday
    workdays: frozenset[str] = frozenset()  # YYYY-MM-DD: 调休, work although a weekend
    missing_materials_days: int = 5  # 容缺: working days to hand in what was missing
    # working days from the bad rating to each step's deadline (cumulative)
    follow_up_days: tuple[tuple[str, int], ...] = (
        ("verify", 1), ("rectify", 5), ("revisit", 7), ("close", 10))
    complaint_days: int = 5  # working days to close a complaint
