"""Every log record and span the suite produces, scanned for personal data (issue 9, rule 6).

Records are scanned as the code emitted them, before the JSON formatter's masking safety net: the
rule is that code never logs or traces an identifier raw, not that the net catches it. A finding
is a citizen ID number with a valid check character, a mobile number, or a 16-19 digit run that
passes the Luhn check (a bank card), standing alone between non-alphanumerics.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts.identifiers import citizen_id_check_character

_ALONE_BEFORE = r"(?<![0-9A-Za-z])"
_ALONE_AFTER = r"(?![0-9A-Za-z])"
_CITIZEN = re.compile(rf"{_ALONE_BEFORE}(\d{{17}})([\dXx]){_ALONE_AFTER}")
_PHONE = re.compile(rf"{_ALONE_BEFORE}(?:\+?86[ -]?)?1[3-9]\d{{9}}{_ALONE_AFTER}")
_CARD = re.compile(rf"{_ALONE_BEFORE}[1-9]\d{{15,18}}{_ALONE_AFTER}")  # card numbers never start with 0
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def findings(text: str) -> list[str]:
    """What in `text` is personal data, masked for the report."""
    found = [
        f"citizen id {m.group(1)[:6]}…"
        for m in _CITIZEN.finditer(text)
        if citizen_id_check_character(m.group(1)) == m.group(2).upper()
    ]
    found += [f"phone {m.group(0)[:3]}…" for m in _PHONE.finditer(text)]
    found += [f"card {m.group(0)[:4]}…" for m in _CARD.finditer(text) if _luhn(m.group(0)) and len(set(m.group(0))) > 1]
    return found


@dataclass
class PiiScan:
    log_records: int = 0
    spans: int = 0
    leaks: list[str] = field(default_factory=list)

    def scan(self, where: str, texts: Iterable[str]) -> None:
        for text in texts:
            for finding in findings(text):
                self.leaks.append(f"{where}: {finding}")


class RecordScanner(logging.Handler):
    """Attached to the root logger for the whole session."""

    def __init__(self, scan: PiiScan) -> None:
        super().__init__(level=logging.DEBUG)
        self.pii = scan

    def emit(self, record: logging.LogRecord) -> None:
        self.pii.log_records += 1
        texts = [str(record.msg), *(str(a) for a in _args(record))]
        texts += [f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")]
        if record.exc_info and record.exc_info[1] is not None:
            texts.append("".join(traceback.format_exception(record.exc_info[1])))
        self.pii.scan(f"log {record.name}", texts)


def _args(record: logging.LogRecord) -> Iterable[Any]:
    if isinstance(record.args, tuple):
        return record.args
    if isinstance(record.args, dict):
        return record.args.values()
    return ()


def scan_spans(scan: PiiScan, spans: Iterable[Any]) -> None:
    for span in spans:
        scan.spans += 1
        texts = [span.name, *(f"{k}={v}" for k, v in (span.attributes or {}).items())]
        for event in span.events:
            texts += [event.name, *(f"{k}={v}" for k, v in (event.attributes or {}).items())]
        scan.scan(f"span {span.name!r}", texts)
