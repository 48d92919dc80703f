"""A router that turns away, in one test, a request none of its routes can take.

FastAPI finds a request's route by trying the app's routes one after the other, router after
router: a regular expression and some bookkeeping each, about 2.4 us here. A hospital's settlement
was tried against the 42 routes of the routers included before its own, about a seventh of the
gateway's work on it in-process (docs/performance.md). Each router of the gateway keeps one
expression that is any of its routes' paths; a path it does not match is no route of this router,
and the next router is asked at once. A path it matches is matched route by route as before, so
which route answers, and 404/405, are FastAPI's own.

The gate is built from the paths the routes were declared with: include such a router without a
prefix of its own (give the prefix to the router), or none of its routes would ever be found.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path  # the path Starlette's own routes match against (root_path off)
from starlette.routing import Match
from starlette.types import Scope

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class GatedRouter(APIRouter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gate: re.Pattern[str] | None = None
        self._gated_routes = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._gated_routes != len(self.routes):  # routes are added after the router is made
            self._gate, self._gated_routes = _any_path_of(self.routes), len(self.routes)
        if self._gate is not None and self._gate.match(get_route_path(scope)) is None:
            return Match.NONE, {}
        return super().matches(scope)


def _any_path_of(routes: list[Any]) -> re.Pattern[str] | None:
    """One expression matching what any of `routes` matches by path; None if one has no path expression."""
    patterns: list[str] = []
    for route in routes:
        expression: re.Pattern[str] | None = getattr(route, "path_regex", None)
        if expression is None:
            return None
        # Every route names its parameters in its own expression; one expression may name each once.
        patterns.append(f"(?:{_NAMED_GROUP.sub('(?:', expression.pattern)})")
    return re.compile("|".join(patterns)) if patterns else None
