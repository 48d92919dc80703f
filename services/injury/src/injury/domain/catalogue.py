"""The versioned work-injury catalogues (stream catalogue-<region>): items, prices, validity dates.

Each price or class change is a new version with its own validity, never an edit of history: a
settlement is priced against the version valid on its service date, whenever it is posted. A new
version ends an earlier one still open on its first day (the earlier one's last day becomes the day
before); a new version must start after every earlier version of the item started.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, assert_never

from injury.domain.errors import CatalogueVersionError, MissingValueError
from injury.domain.events import AgreementEvent, CatalogueVersionPublished, DeterminationEvent, Event, SettlementEvent
from injury.domain.values import Category, ItemKind


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueItem:
    """One version of one item, valid from `valid_from` to `valid_to` (both included; None: open)."""

    code: str
    name: str
    kind: ItemKind
    category: Category
    unit: str
    price_fen: int
    valid_from: date
    valid_to: date | None = None
    version: int = 1

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalogue:
    """Every version of every item of a region, each item's versions in publication order."""

    region: str = ""
    items: Mapping[str, tuple[CatalogueItem, ...]] = field(default_factory=dict)

    def knows(self, code: str) -> bool:
        return code in self.items

    def history(self, code: str) -> tuple[CatalogueItem, ...]:
        return self.items.get(code, ())

    def price_on(self, code: str, service_date: date) -> CatalogueItem | None:
        """The version of `code` valid on `service_date`, or None (unknown code, or none in force)."""
        return next((v for v in self.history(code) if v.valid_on(service_date)), None)


def catalogue_stream(region: str) -> str:
    return f"catalogue-{region}"


def _appended(history: tuple[CatalogueItem, ...], item: CatalogueItem) -> tuple[CatalogueItem, ...]:
    """The history with `item` added: a version still open on the new one's first day now ends the day before."""
    last_day = item.valid_from - timedelta(days=1)
    closed = tuple(replace(v, valid_to=last_day) if v.valid_to is None or v.valid_to > last_day else v for v in history)
    return (*closed, item)


def _item(event: CatalogueVersionPublished) -> CatalogueItem:
    return CatalogueItem(
        code=event.code,
        name=event.name,
        kind=event.kind,
        category=event.category,
        unit=event.unit,
        price_fen=event.price_fen,
        valid_from=event.valid_from,
        valid_to=event.valid_to,
        version=event.version,
    )


def evolve(state: Catalogue, event: Event) -> Catalogue:
    match event:
        case CatalogueVersionPublished():
            items = dict(state.items)
            items[event.code] = _appended(items.get(event.code, ()), _item(event))
            return Catalogue(region=event.region, items=items)
        case _ if isinstance(event, DeterminationEvent | AgreementEvent | SettlementEvent):
            return state  # another aggregate's event
        case _:
            assert_never(event)


def fold(events: Iterable[Event]) -> Catalogue:
    """The catalogue after `events`; built in one pass (evolve copies the index per event)."""
    return fold_on(Catalogue(), events)


def fold_on(state: Catalogue, events: Iterable[Event]) -> Catalogue:
    """`state` with `events` folded on, in one pass."""
    region = state.region
    items = dict(state.items)
    for event in events:
        if isinstance(event, CatalogueVersionPublished):
            region = event.region
            items[event.code] = _appended(items.get(event.code, ()), _item(event))
    return Catalogue(region=region, items=items)


def build_catalogue(region: str, versions: Iterable[CatalogueItem]) -> Catalogue:
    """A catalogue from versions in any order: per item sorted by first day, numbered 1, 2, ... and
    each ending the one before it (as if published in that order)."""
    by_code: dict[str, list[CatalogueItem]] = {}
    for v in versions:
        by_code.setdefault(v.code, []).append(v)
    items: dict[str, tuple[CatalogueItem, ...]] = {}
    for code, listed in by_code.items():
        history: tuple[CatalogueItem, ...] = ()
        for number, v in enumerate(sorted(listed, key=lambda v: v.valid_from), start=1):
            numbered = replace(v, version=number)
            _check_version(history, numbered)
            history = _appended(history, numbered)
        items[code] = history
    return Catalogue(region=region, items=items)


def item_from_row(row: Mapping[str, Any]) -> CatalogueItem:
    """One version from a data row (JSON object): code, name, kind, category, unit, price_fen,
    valid_from, valid_to ("YYYY-MM-DD" or null)."""
    try:
        valid_to = row.get("valid_to")
        return CatalogueItem(
            code=str(row["code"]),
            name=str(row["name"]),
            kind=ItemKind(row["kind"]),
            category=Category(row["category"]),
            unit=str(row["unit"]),
            price_fen=int(row["price_fen"]),
            valid_from=date.fromisoformat(row["valid_from"]),
            valid_to=None if valid_to is None else date.fromisoformat(valid_to),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise CatalogueVersionError(str(row.get("code", "?")), f"the data row cannot be read: {exc!r}") from exc


def _check_version(history: tuple[CatalogueItem, ...], item: CatalogueItem) -> None:
    for what, value in (("code", item.code), ("name", item.name), ("unit", item.unit)):
        if not value.strip():
            raise MissingValueError(f"the catalogue item's {what}")
    if item.price_fen < 0 or (item.category.in_catalogue and item.price_fen == 0):
        raise CatalogueVersionError(item.code, f"price {item.price_fen} fen: an in-catalogue price is above zero")
    if item.valid_to is not None and item.valid_to < item.valid_from:
        raise CatalogueVersionError(item.code, f"valid to {item.valid_to} is before valid from {item.valid_from}")
    if history and item.valid_from <= history[-1].valid_from:
        raise CatalogueVersionError(
            item.code,
            f"a new version must start after version {history[-1].version} (from {history[-1].valid_from}); "
            f"{item.valid_from} would rewrite history",
        )


def decide_publish(state: Catalogue, *, region: str, item: CatalogueItem, now: datetime) -> list[Event]:
    """Publish a new version of `item` (its `version` is assigned here). Publishing the latest
    version again, identical, has no second effect."""
    if not region.strip():
        raise MissingValueError("the catalogue's region")
    history = state.history(item.code)
    if history and replace(item, version=history[-1].version) == history[-1]:
        return []  # the latest version published again
    _check_version(history, item)
    return [
        CatalogueVersionPublished(
            region=region,
            code=item.code,
            name=item.name,
            kind=item.kind,
            category=item.category,
            unit=item.unit,
            price_fen=item.price_fen,
            valid_from=item.valid_from,
            valid_to=item.valid_to,
            version=len(history) + 1,
            at=now,
        )
    ]
