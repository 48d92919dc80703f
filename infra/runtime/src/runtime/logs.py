"""Structured JSON logs carrying trace and correlation ids, with personal data masked."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# A safety net, not the main defence: code never logs identifiers raw in the first place.
_CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{12,15}(\d{4})(?!\d)")

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """Mask citizen ID numbers, mobile numbers and bank-account-like digit runs."""
    text = _CITIZEN_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(2)[-2:], text)
    text = _PHONE.sub(r"\1****\2", text)
    return _LONG_DIGITS.sub(r"****\1", text)


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
                entry[key] = redact(value) if isinstance(value, str) else value
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
