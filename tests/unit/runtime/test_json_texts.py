"""Values sent as JSON text for the statement to cast: each object written once, None kept NULL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from runtime import eventstore
from runtime.eventstore import json_texts


@dataclass(frozen=True)
class Decided:
    person_ref: str
    amount_fen: int


def test_values_are_their_json_and_none_stays_null() -> None:
    assert json_texts([{"a": 1}, Decided("p-1", 500), None, "text"]) == [
        '{"a":1}',
        '{"person_ref":"p-1","amount_fen":500}',
        None,
        '"text"',
    ]


def test_an_object_met_again_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Any] = []
    real = eventstore.dumps

    def counted(value: Any) -> bytes:
        written.append(value)
        return real(value)

    monkeypatch.setattr(eventstore, "dumps", counted)
    shared = {"correlation_id": "c"}

    texts = json_texts([shared, {"correlation_id": "c"}, shared, shared])

    assert texts == ['{"correlation_id":"c"}'] * 4
    assert len(written) == 2  # the shared dict once, the equal but other dict once
