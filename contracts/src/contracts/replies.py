"""Replies to commands and queries, and RFC 9457 problem details shared with the gateway."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_BASE = "https://yiwang.example/problems/"


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted path of the offending field, e.g. `body.lines.2.quantity`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. `type` is a stable URI per rule; `errors` names each bad field."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem(code: str, title: str, status: int, detail: str | None = None, **extra: Any) -> Problem:
    return Problem(type=PROBLEM_BASE + code, title=title, status=status, detail=detail, **extra)


class Reply(BaseModel):
    """What a service answers on request/reply: a result or a problem, never both."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    result: dict[str, Any] | list[Any] | None = None
    problem: Problem | None = None
    replayed: bool | None = Field(
        default=None,
        description="True when this is the stored reply of a command whose id came before (a retry with "
        "the same Idempotency-Key, a replayed signed request): nothing was decided again.",
    )


def ok(result: dict[str, Any] | list[Any] | None = None) -> Reply:
    return Reply(ok=True, result=result)


def refused(p: Problem) -> Reply:
    return Reply(ok=False, problem=p)
