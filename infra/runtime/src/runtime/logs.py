"""Structured JSON logs carrying trace and correlation ids, with personal data masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson
from opentelemetry import trace

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# A safety net, not the main defence: code never logs identifiers raw in the first place.
# Every pattern must stand alone between non-alphanumerics, so digit runs inside UUIDs, trace ids
# and hex digests are left alone. An all-digit credit code (913100006315928412) has the shape of a
# citizen ID number and is masked too: over-masking an organisation code is the safe side.
_ALONE_BEFORE = r"(?<![0-9A-Za-z])"
_ALONE_AFTER = r"(?![0-9A-Za-z])"
_CITIZEN_ID = re.compile(rf"{_ALONE_BEFORE}(\d{{6}})\d{{8}}(\d{{3}}[\dXx]){_ALONE_AFTER}")
_PHONE = re.compile(rf"{_ALONE_BEFORE}((?:(?:\+|00)?86[ -]?)?1[3-9]\d)\d{{4}}(\d{{4}}){_ALONE_AFTER}")
_LONG_DIGITS = re.compile(rf"{_ALONE_BEFORE}\d{{12,15}}(\d{{4}}){_ALONE_AFTER}")

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """Mask citizen ID numbers, mobile numbers and bank-account-like digit runs."""
    text = _CITIZEN_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(2)[-2:], text)
    text = _PHONE.sub(r"\1****\2", text)
    return _LONG_DIGITS.sub(r"****\1", text)


def _redacted(value: Any) -> Any:
    """`value` made safe to log: strings masked, containers walked, digits that look personal masked."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int):
        text = str(value)
        masked = redact(text)
        return value if masked == text else masked
    if isinstance(value, Mapping):
        return {redact(str(k)): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    if isinstance(value, datetime | date | UUID):
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = f"{span_context.trace_id:032x}"
            entry["span_id"] = f"{span_context.span_id:016x}"
        if (cid := correlation_id.get()) is not None:
            entry["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _redacted(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for this process (called once from `__main__`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("nats", "asyncio", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
