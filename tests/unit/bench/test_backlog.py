"""How far behind its stream each consumer is, as the bench reads it off NATS's /jsz."""

from __future__ import annotations

from tests.bench.procs import pending


def test_a_consumer_is_behind_by_what_its_stream_holds_beyond_what_it_was_given() -> None:
    jsz = {
        "account_details": [
            {
                "stream_detail": [
                    {
                        "name": "YIWANG_TRANSFER_INBOX_36",
                        "consumer_detail": [
                            {"name": "transfer-36-inbox", "num_pending": 2_494, "num_ack_pending": 200}
                        ],
                    },
                    {"name": "YIWANG_TRACES", "consumer_detail": None},
                    {
                        "name": "YIWANG_ENROLMENT_EVENTS_36",
                        "consumer_detail": [
                            {"name": "transfer-36-history", "num_pending": 0, "num_ack_pending": 37},
                            {"name": "idle", "num_pending": 0, "num_ack_pending": 0},
                        ],
                    },
                ]
            }
        ]
    }

    assert pending(jsz) == {"transfer-36-inbox": 2_494, "transfer-36-history": 0, "idle": 0}
    assert pending({}) == {}
