"""Bytes on the wire <-> envelopes and replies, and validation errors as problem details."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.envelope import Envelope, enveloped
from contracts.replies import FieldError, Problem, Reply, problem

T = TypeVar("T", bound=BaseModel)


def decode(raw: bytes, model: type[T]) -> Envelope[T]:
    """Parse an envelope whose data must be `model`; raises pydantic's ValidationError."""
    return enveloped(model).model_validate_json(raw)


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def field_errors(error: ValidationError, *, prefix: str = "") -> list[FieldError]:
    found = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in item["loc"])
        found.append(FieldError(field=f"{prefix}{path}", message=item["msg"]))
    return found


def invalid(error: ValidationError, *, prefix: str = "") -> Problem:
    """A 400 problem naming every invalid field."""
    errors = field_errors(error, prefix=prefix)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem("invalid-request", "The request is not valid", 400, detail, errors=errors)


def reply_bytes(reply: Reply) -> bytes:
    return reply.model_dump_json(exclude_none=True).encode()


def reply_dict(reply: Reply) -> dict[str, Any]:
    return reply.model_dump(mode="json", exclude_none=True)
