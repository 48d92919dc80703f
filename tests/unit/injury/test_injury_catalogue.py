"""The versioned catalogue: the sample data, the version valid on a day, new versions closing old ones."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from importlib.resources import files

import pytest

from injury.domain.catalogue import (
    Catalogue,
    CatalogueItem,
    build_catalogue,
    catalogue_stream,
    decide_publish,
    evolve,
    fold,
    item_from_row,
)
from injury.domain.errors import CatalogueVersionError, MissingValueError
from injury.domain.events import CatalogueVersionPublished, Event
from injury.domain.values import Category, ItemKind

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
OMEPRAZOLE = "XA02BCA011"


def sample() -> Catalogue:
    data = json.loads((files("injury") / "catalogue" / "sample.json").read_text(encoding="utf-8"))
    return build_catalogue(data["region"], (item_from_row(row) for row in data["items"]))


def item(price_fen: int, valid_from: date, *, code: str = "XJ01CAA040", valid_to: date | None = None) -> CatalogueItem:
    return CatalogueItem(
        code=code,
        name="阿莫西林胶囊 0.25g",
        kind=ItemKind.DRUG,
        category=Category.CLASS_A,
        unit="粒",
        price_fen=price_fen,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def test_the_sample_has_all_three_catalogues_and_a_price_change() -> None:
    catalogue = sample()
    assert catalogue.region == "360100"
    assert len(catalogue.items) == 15
    kinds = {versions[0].kind for versions in catalogue.items.values()}
    assert kinds == {ItemKind.DRUG, ItemKind.TREATMENT, ItemKind.SERVICE}
    categories = {versions[0].category for versions in catalogue.items.values()}
    assert categories == set(Category)
    assert [v.version for v in catalogue.history(OMEPRAZOLE)] == [1, 2]


def test_the_version_valid_on_the_service_date_is_picked() -> None:
    catalogue = sample()
    old = catalogue.price_on(OMEPRAZOLE, date(2025, 12, 31))
    new = catalogue.price_on(OMEPRAZOLE, date(2026, 1, 1))
    assert old is not None and (old.version, old.price_fen, old.valid_to) == (1, 80, date(2025, 12, 31))
    assert new is not None and (new.version, new.price_fen, new.valid_to) == (2, 65, None)
    assert catalogue.price_on(OMEPRAZOLE, date(2023, 12, 31)) is None  # before the first version


def test_unknown_and_expired_codes_are_told_apart() -> None:
    catalogue = sample()
    assert catalogue.price_on("NOPE", date(2026, 1, 1)) is None and not catalogue.knows("NOPE")
    assessment = "340100008"  # valid to 2025-12-31
    assert catalogue.price_on(assessment, date(2025, 12, 31)) is not None
    assert catalogue.price_on(assessment, date(2026, 1, 1)) is None and catalogue.knows(assessment)


def test_a_published_version_closes_the_open_one_and_keeps_history() -> None:
    first = decide_publish(Catalogue(), region="360100", item=item(35, date(2024, 1, 1)), now=NOW)
    assert first == [
        CatalogueVersionPublished(
            region="360100",
            code="XJ01CAA040",
            name="阿莫西林胶囊 0.25g",
            kind=ItemKind.DRUG,
            category=Category.CLASS_A,
            unit="粒",
            price_fen=35,
            valid_from=date(2024, 1, 1),
            valid_to=None,
            version=1,
            at=NOW,
        )
    ]
    second = decide_publish(fold(first), region="360100", item=item(30, date(2026, 4, 1)), now=NOW)
    catalogue = fold([*first, *second])
    v1, v2 = catalogue.history("XJ01CAA040")
    assert (v1.price_fen, v1.valid_to) == (35, date(2026, 3, 31))
    assert (v2.version, v2.price_fen, v2.valid_to) == (2, 30, None)
    assert catalogue_stream("360100") == "catalogue-360100"


def test_evolve_and_fold_agree() -> None:
    events: list[Event] = []
    state = Catalogue()
    for version in (item(35, date(2024, 1, 1)), item(30, date(2025, 1, 1)), item(28, date(2026, 1, 1))):
        published = decide_publish(state, region="360100", item=version, now=NOW)
        events += published
        for event in published:
            state = evolve(state, event)
    assert state == fold(events)
    assert [v.valid_to for v in state.history("XJ01CAA040")] == [date(2024, 12, 31), date(2025, 12, 31), None]


def test_a_closed_version_ending_later_is_cut_back() -> None:
    catalogue = build_catalogue(
        "360100", [item(30, date(2025, 7, 1)), item(35, date(2024, 1, 1), valid_to=date(2025, 12, 31))]
    )
    v1, v2 = catalogue.history("XJ01CAA040")
    assert (v1.version, v1.valid_to, v2.version) == (1, date(2025, 6, 30), 2)


def test_publishing_the_latest_version_again_has_no_effect() -> None:
    state = fold(decide_publish(Catalogue(), region="360100", item=item(35, date(2024, 1, 1)), now=NOW))
    assert decide_publish(state, region="360100", item=item(35, date(2024, 1, 1)), now=NOW) == []


def test_history_is_not_rewritten() -> None:
    state = fold(decide_publish(Catalogue(), region="360100", item=item(35, date(2025, 1, 1)), now=NOW))
    with pytest.raises(CatalogueVersionError, match="rewrite history"):
        decide_publish(state, region="360100", item=item(30, date(2025, 1, 1)), now=NOW)
    with pytest.raises(CatalogueVersionError, match="rewrite history"):
        decide_publish(state, region="360100", item=item(30, date(2024, 6, 1)), now=NOW)


def test_unreadable_versions_are_refused() -> None:
    with pytest.raises(CatalogueVersionError, match="above zero"):
        decide_publish(Catalogue(), region="360100", item=item(0, date(2025, 1, 1)), now=NOW)
    with pytest.raises(CatalogueVersionError, match="before valid from"):
        decide_publish(Catalogue(), region="360100", item=item(5, date(2025, 1, 1), valid_to=date(2024, 1, 1)), now=NOW)
    with pytest.raises(MissingValueError, match="region"):
        decide_publish(Catalogue(), region=" ", item=item(5, date(2025, 1, 1)), now=NOW)
    with pytest.raises(CatalogueVersionError, match="XX1"):
        item_from_row({"code": "XX1", "name": "n", "kind": "drug", "category": "class_z"})
