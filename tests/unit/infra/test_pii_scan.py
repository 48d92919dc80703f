"""The suite's personal-data scan finds what it must and leaves trace ids, UUIDs and amounts alone."""

from __future__ import annotations

import logging

from contracts.identifiers import citizen_id_check_character
from tests.pii_scan import PiiScan, RecordScanner, findings

BODY = "36010219900307123"
CITIZEN = BODY + citizen_id_check_character(BODY)


def test_a_citizen_id_a_mobile_number_and_a_card_number_are_found() -> None:
    assert findings(f"applied for {CITIZEN}") == ["citizen id 360102…"]
    assert findings("call 13812345678 now") == ["phone 138…"]
    assert findings("card 4111111111111111") == ["card 4111…"]


def test_ids_inside_uuids_trace_ids_and_wrong_check_characters_are_not_findings() -> None:
    wrong = BODY + ("0" if CITIZEN[-1] != "0" else "1")
    assert findings(f"trace 0af7651916cd43dd8448eb211c80319c span {CITIZEN}abc") == []
    assert findings(f"case d5bdac85-e98b-548c-aa4b-3c02aed3dae9 amount 160000 id {wrong}") == []
    assert findings("lead 0000000000000000 and 1111111111111111") == []


def test_the_log_scanner_sees_messages_arguments_extras_and_exceptions() -> None:
    scan = PiiScan()
    log = logging.getLogger("pii-probe")
    log.addHandler(RecordScanner(scan))
    log.propagate = False
    try:
        log.warning("checked %s", CITIZEN)
        log.warning("extra", extra={"phone": "13812345678"})
        try:
            raise ValueError(f"bad {CITIZEN}")
        except ValueError:
            log.exception("failed")
    finally:
        log.handlers.clear()
    assert scan.log_records == 3
    assert len(scan.leaks) == 3
