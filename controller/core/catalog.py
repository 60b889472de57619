"""The item catalog at run time: the catalog file's items, as changed by the cloud's
`catalog.update` commands, which are events (`catalog.updated`) so a restart keeps them.

Also taking a ticket by item: the item names the category it is served under, and the
ticket records the item (`ticket.issued` carries `item_code`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from controller.catalog.model import Item
from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core.engine import _issue, register_command
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.state import HallState, register_event

CATALOG_UPDATED = "catalog.updated"
MODES = ("merge", "replace")


@dataclass(frozen=True, slots=True)
class UpdateCatalog(c.ModuleCommand):
    """From the cloud: items added or replaced (by code) and codes removed (`merge`), or the
    whole catalog replaced (`replace`). `version` only goes up: a late, older update is
    refused (`stale_catalog`)."""

    version: int
    mode: str
    items: tuple[Item, ...]
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IssueByItem(c.ModuleCommand):
    ticket_id: str
    item_code: str
    channel: str
    priority: str | None = None
    identity_hash: str | None = None
    category: str | None = None  # when the caller named one too: must match the item's


@dataclass(slots=True)
class Overlay:
    """What the cloud changed, on top of the configured catalog."""

    version: int = 0
    replaced: bool = False
    upserts: dict[str, Item] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    updated_at: float | None = None
    revision: int = 0
    cache: tuple[Any, ...] | None = None


def overlay(state: HallState) -> Overlay:
    """The cloud's changes; a state without any gets none stored, so that reading the
    catalog never makes the live state differ from one rebuilt from the log."""
    found = state.extra.get("catalog")
    return found if found is not None else _NO_UPDATES


_NO_UPDATES = Overlay()  # shared by every state without updates: only its cache changes


def items(state: HallState, cfg: HallConfig) -> dict[str, Item]:
    """The catalog in force, by code, parents before children; `servable` is recomputed,
    since an update may split an item into sub-items."""
    o = overlay(state)
    if o.cache is not None and o.cache[0] is cfg and o.cache[1] == o.revision:
        return o.cache[2]  # type: ignore[no-any-return]
    merged: dict[str, Item] = {} if o.replaced else {i.code: i for i in cfg.cases.items}
    for code in o.removed:
        merged.pop(code, None)
    merged.update(o.upserts)
    parents = {i.parent for i in merged.values() if i.parent}
    out = {code: (i if i.servable == (code not in parents) else
                  replace(i, servable=code not in parents)) for code, i in merged.items()}
    o.cache = (cfg, o.revision, out)
    return out


def path(catalog: dict[str, Item], item: Item) -> list[Item]:
    """Main item down to this one."""
    chain = [item]
    while chain[0].parent and chain[0].parent in catalog and len(chain) < 3:
        chain.insert(0, catalog[chain[0].parent])
    return chain


def search(state: HallState, cfg: HallConfig, q: str, category: str | None = None,
           limit: int = 50) -> list[Item]:
    """Servable items matching `q` by code, name or pinyin initials (case-insensitive),
    best matches first: exact code, code prefix, initials prefix, name, then the rest."""
    needle = q.strip().lower()
    found: list[tuple[int, int, Item]] = []
    for order, item in enumerate(items(state, cfg).values()):
        if not item.servable or (category and item.category != category):
            continue
        if not needle:
            rank = 0
        else:
            code = item.code.lower()
            group_names = "".join(p.name for p in path(items(state, cfg), item)[:-1])
            if code == needle:
                rank = 0
            elif code.startswith(needle):
                rank = 1
            elif item.initials.startswith(needle):
                rank = 2
            elif needle in item.name.lower():
                rank = 3
            elif needle in item.initials:
                rank = 4
            elif needle in code:
                rank = 5
            elif needle in group_names.lower():
                rank = 6
            else:
                continue
        found.append((rank, order, item))
    found.sort(key=lambda x: (x[0], x[1]))
    return [item for _, _, item in found[:limit]]


def servable(state: HallState, cfg: HallConfig, code: str) -> Item:
    item = items(state, cfg).get(code)
    if item is None:
        raise not_found("item", f"no item {code!r} in the catalog")
    if not item.servable:
        raise invalid("item_not_servable",
                      f"{item.name} has sub-items: choose one of them")
    return item


def _update(state: HallState, cfg: HallConfig, cmd: UpdateCatalog, now: float) -> list[Event]:
    o = overlay(state)
    if cmd.mode not in MODES:
        raise invalid("bad_mode", "mode is merge or replace")
    if cmd.version <= o.version:
        raise Refusal("stale_catalog", f"catalog version {cmd.version} is not newer than "
                      f"version {o.version} in force")
    current = {} if cmd.mode == "replace" else dict(items(state, cfg))
    for code in cmd.remove:
        if code not in current:
            raise not_found("item", f"cannot remove {code!r}: not in the catalog")
        current.pop(code)
    for item in cmd.items:
        current[item.code] = item
    for item in current.values():
        if item.parent and item.parent not in current:
            raise invalid("unknown_parent", f"{item.code}: no parent item {item.parent!r}")
        if item.category is not None and item.category not in cfg.categories:
            raise invalid("unknown_category", f"{item.code}: no category {item.category!r}")
    if cmd.mode == "replace" and not cmd.items:
        raise invalid("empty_catalog", "a replacing update needs at least one item")
    return [Event(CATALOG_UPDATED, {
        "version": cmd.version, "mode": cmd.mode,
        "items": [i.to_dict() for i in cmd.items], "remove": list(cmd.remove),
    })]


def _updated(state: HallState, d: dict[str, Any], at: float) -> None:
    o = state.extra.get("catalog")
    if o is None:
        o = state.extra["catalog"] = Overlay()
    new = {x["code"]: Item.from_dict(x) for x in d["items"]}
    if d["mode"] == "replace":
        o.replaced = True
        o.upserts = new
        o.removed = set()
    else:
        for code in d.get("remove", []):
            o.upserts.pop(code, None)
            o.removed.add(code)
        for code, item in new.items():
            o.removed.discard(code)
            o.upserts[code] = item
    o.version = d["version"]
    o.updated_at = at
    o.revision += 1


def _issue_by_item(state: HallState, cfg: HallConfig, cmd: IssueByItem, now: float
                   ) -> list[Event]:
    item = servable(state, cfg, cmd.item_code)
    assert item.category is not None
    if cmd.category is not None and cmd.category != item.category:
        raise invalid("category_mismatch", f"{item.name} is served under category "
                      f"{item.category}, not {cmd.category}")
    events = _issue(state, cfg, c.IssueTicket(cmd.ticket_id, item.category, cmd.channel,
                                              cmd.priority, cmd.identity_hash), now)
    events[0].data["item_code"] = item.code
    return events


register_command(UpdateCatalog, _update)
register_command(IssueByItem, _issue_by_item)
register_event(CATALOG_UPDATED, _updated)


def catalog_command(cfg: HallConfig, state: Callable[[], HallState], body: dict[str, Any],
                    malformed: type[Exception]) -> UpdateCatalog:
    """A `catalog.update` body (docs/cloud-protocol.md) checked as strictly as the catalog
    file; `malformed(reason, detail)` is raised naming the key (`body.items[2].code`)."""
    from controller.catalog.loader import CODE, CatalogError, parse_items

    version = body.get("version")
    if version is None:
        raise malformed("missing_field", "body.version is required")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**53:
        raise malformed("bad_field", "body.version must be a positive integer")
    mode = body.get("mode", "merge")
    if mode not in MODES:
        raise malformed("bad_field", "body.mode must be merge or replace")
    if "items" not in body:
        raise malformed("missing_field", "body.items is required")
    remove = body.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(x, str) and CODE.fullmatch(x)
                                               for x in remove):
        raise malformed("bad_field", "body.remove must be a list of item codes")
    try:
        parsed = parse_items(body["items"], set(cfg.categories), "body.items",
                             None if mode == "replace" else items(state(), cfg))
    except CatalogError as exc:
        reason = "missing_field" if exc.message.startswith("is required") else "bad_field"
        raise malformed(reason, f"{exc.key}: {exc.message}") from None
    return UpdateCatalog(version, mode, parsed, tuple(remove))
