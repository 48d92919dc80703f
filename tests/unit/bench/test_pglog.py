"""PostgreSQL's own work read from its log and told by section (`tests.bench.pglog`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.bench.pglog import Window, background, by_section, line, of_log

LOG = """\
2026-12-07 17:30:00.001 UTC [100] LOG:  database system is ready to accept connections
2026-12-07 17:34:57.120 UTC [201] LOG:  automatic vacuum of table "transfer_36.public.outbox": index scans: 0
\tpages: 0 removed, 120 remain, 120 scanned (100.00% of total)
2026-12-07 17:34:57.480 UTC [201] LOG:  automatic analyze of table "transfer_36.public.events"
2026-12-07 17:34:58.002 UTC [202] LOG:  automatic vacuum of table "transfer_44.public.outbox": index scans: 1
2026-12-07 17:35:10.500 UTC [101] LOG:  checkpoint starting: wal
2026-12-07 17:35:20.000 UTC [101] LOG:  checkpoint starting: immediate force wait
2026-12-07 17:37:50.900 UTC [101] LOG:  checkpoint complete: wrote 9000 buffers (27.5%); write=160.1 s
2026-12-07 17:38:00.000 UTC [203] LOG:  automatic analyze of table "injury_36.public.settlements"
2026-12-07 17:38:00.500 UTC [203] LOG:  automatic aggressive vacuum of table "template1.pg_catalog.pg_depend": index scans: 0
2026-12-07 17:38:00.600 UTC [203] LOG:  automatic aggressive vacuum to prevent wraparound of table "template1.pg_catalog.pg_class": index scans: 0
2026-12-07 17:38:01.000 UTC [204] ERROR:  canceling autovacuum task
2026-12-07 17:39:00.000 UTC [101] LOG:  checkpoint starting: time
2026-12-07 17:45:00.000 UTC [101] LOG:  checkpoint starting: shutdown immediate
"""


def _at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-12-07 {clock}").replace(tzinfo=UTC).timestamp()


def test_the_log_gives_each_autovacuum_run_analysis_and_checkpoint_postgresql_started_on_its_own() -> None:
    work = background(LOG.splitlines())

    assert [(w.kind, w.table) for w in work] == [
        ("autovacuum", "transfer_36.public.outbox"),
        ("autoanalyze", "transfer_36.public.events"),
        ("autovacuum", "transfer_44.public.outbox"),
        ("checkpoint", ""),
        ("autoanalyze", "injury_36.public.settlements"),
        ("autovacuum", "template1.pg_catalog.pg_depend"),
        ("autovacuum", "template1.pg_catalog.pg_class"),
        ("checkpoint", ""),
    ]
    assert work[0].at == _at("17:34:57.120")


def test_each_piece_of_work_counts_in_the_section_it_started_in() -> None:
    work = background(LOG.splitlines())
    windows = [
        Window("stack transfer", _at("17:30:00"), _at("17:34:57.120")),  # ends as the first vacuum starts
        Window("stack injury", _at("17:34:57.120"), _at("17:38:00")),
        Window("stack year", _at("17:38:00"), _at("17:40:00")),
    ]

    counted = by_section(work, windows)

    assert counted == {
        "stack transfer": {"autovacuum": 0, "autoanalyze": 0, "checkpoint": 0, "databases": {}},
        "stack injury": {
            "autovacuum": 2,
            "autoanalyze": 1,
            "checkpoint": 1,
            "databases": {"transfer_36": 2, "transfer_44": 1},
        },
        "stack year": {
            "autovacuum": 2,
            "autoanalyze": 1,
            "checkpoint": 1,
            "databases": {"injury_36": 1, "template1": 2},
        },
    }
    assert line(counted).endswith(
        "stack transfer 0 / 0 / 0; stack injury 2 / 1 / 1 (transfer_36 2, transfer_44 1); stack year 2 / 1 / 1"
        " (injury_36 1, template1 2)"
    )


def test_no_sections_make_no_line() -> None:
    assert line({}) == ""


def test_the_log_file_is_read_by_the_sections_times_and_a_missing_one_gives_nothing(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(LOG)
    times = {"stack injury": [_at("17:34:57.120"), _at("17:38:00")]}

    assert of_log(log, times) == by_section(
        background(LOG.splitlines()), [Window("stack injury", *times["stack injury"])]
    )
    assert of_log(log, times)["stack injury"]["autovacuum"] == 2
    assert of_log(tmp_path / "none.log", times) == {}
