"""The region's work-injury catalogues: operators publish new versions; the shipped sample loads at start.

Each price or class change is a new version with its own validity, never an edit of history. The
sample is loaded idempotently by content: a version already published (same code, first day and
terms) is skipped, so every start, and every replica, may load it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from contracts.injury.commands import CatalogueItemV1, PublishCatalogueVersions
from injury.application.ports import Recorder
from injury.domain import catalogue as cat
from injury.domain.errors import CatalogueVersionError
from injury.domain.events import CatalogueVersionPublished, Event
from injury.domain.values import Category, ItemKind
from runtime.eventstore import Transaction
from runtime.recording import CommandContext

log = logging.getLogger(__name__)


def item_of(row: CatalogueItemV1) -> cat.CatalogueItem:
    return cat.CatalogueItem(
        code=row.code,
        name=row.name,
        kind=ItemKind(row.kind),
        category=Category(row.category),
        unit=row.unit,
        price_fen=row.price_fen,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _version(item: cat.CatalogueItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "version": item.version,
        "name": item.name,
        "kind": item.kind.value,
        "category": item.category.value,
        "unit": item.unit,
        "price_fen": item.price_fen,
        "valid_from": item.valid_from.isoformat(),
        "valid_to": None if item.valid_to is None else item.valid_to.isoformat(),
    }


def _published(state: cat.Catalogue, item: cat.CatalogueItem) -> bool:
    """Whether this version is already in the history (its last day may since have been closed)."""
    terms = (item.valid_from, item.name, item.kind, item.category, item.unit, item.price_fen)
    return any(
        (v.valid_from, v.name, v.kind, v.category, v.unit, v.price_fen) == terms for v in state.history(item.code)
    )


async def publish_catalogue_versions(
    tx: Transaction, command: PublishCatalogueVersions, ctx: CommandContext, *, recorder: Recorder
) -> dict[str, Any]:
    """Publish new versions, in the order given, all or none; the latest version again changes nothing."""
    stream = cat.catalogue_stream(ctx.region)
    past, version = await recorder.load(tx, stream)
    state = cat.fold(past)
    events: list[Event] = []
    for row in command.items:
        new = cat.decide_publish(state, region=ctx.region, item=item_of(row), now=ctx.now)
        for event in new:
            state = cat.evolve(state, event)
        events += new
    await recorder.record(tx, stream, version, events, ctx)
    published = [e for e in events if isinstance(e, CatalogueVersionPublished)]
    return {
        "published": [
            {"code": e.code, "version": e.version, "valid_from": e.valid_from.isoformat()} for e in published
        ],
        "unchanged": len(command.items) - len(published),
    }


async def load_versions(
    tx: Transaction, versions: Iterable[cat.CatalogueItem], ctx: CommandContext, *, recorder: Recorder
) -> int:
    """Publish the versions not yet in the catalogue, oldest first; returns how many were new.

    A version that would rewrite history (an operator published a later one meanwhile) is skipped.
    """
    stream = cat.catalogue_stream(ctx.region)
    past, version = await recorder.load(tx, stream)
    state = cat.fold(past)
    events: list[Event] = []
    for item in sorted(versions, key=lambda v: (v.valid_from, v.code)):
        if _published(state, item):
            continue
        try:
            new = cat.decide_publish(state, region=ctx.region, item=item, now=ctx.now)
        except CatalogueVersionError as refused:
            log.warning("catalogue version skipped", extra={"code": refused.code, "why": str(refused)})
            continue
        for event in new:
            state = cat.evolve(state, event)
        events += new
    await recorder.record(tx, stream, version, events, ctx)
    return len(events)


async def get_item(tx: Transaction, region: str, code: str, *, recorder: Recorder) -> dict[str, Any] | None:
    """Every version of one item, oldest first; None for a code no catalogue has."""
    past, _ = await recorder.load(tx, cat.catalogue_stream(region))
    history = cat.fold(past).history(code)
    if not history:
        return None
    return {"code": code, "versions": [_version(v) for v in history]}
