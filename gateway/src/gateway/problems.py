"""Every error leaves the gateway as RFC 9457 problem+json; a client's mistake is never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.replies import FieldError, Problem, problem

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise to answer with this problem."""

    def __init__(self, p: Problem, headers: dict[str, str] | None = None) -> None:
        super().__init__(p.title)
        self.problem = p
        self.headers = headers or {}


def respond(p: Problem, request: Request, headers: dict[str, str] | None = None) -> JSONResponse:
    body = p.model_dump(mode="json", exclude_none=True)
    body.setdefault("instance", request.url.path)
    return JSONResponse(body, status_code=p.status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> JSONResponse:
        return respond(error.problem, request, error.headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [FieldError(field=".".join(str(p) for p in e["loc"]), message=str(e["msg"])) for e in error.errors()]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return respond(problem("invalid-request", "The request is not valid", 400, detail, errors=errors), request)

    @app.exception_handler(ValidationError)
    async def on_invalid_parameters(request: Request, error: ValidationError) -> JSONResponse:
        """A command or query built from the path and query parameters that its contract refuses:
        the client's mistake, a 400 (replies from services are checked in the bus, never here)."""
        errors = [FieldError(field=".".join(str(p) for p in e["loc"]), message=str(e["msg"])) for e in error.errors()]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return respond(problem("invalid-request", "The request is not valid", 400, detail, errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "Request refused")
        return respond(problem(f"http-{error.status_code}", title, error.status_code, str(error.detail)), request)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("gateway error", extra={"path": request.url.path})
        return respond(problem("internal", "Internal error", 500), request)
