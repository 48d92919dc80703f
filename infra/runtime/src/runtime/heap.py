"""The cyclic garbage collector set for a long-running server, once its start-up is done.

Python collects its youngest objects after every 700 new container objects by default: a few times
per request here, each time walking what is still alive, and every tenth of those walks the older
generation too. The objects start-up made (modules, pydantic schemas, routes, compiled SQL) are never
garbage, yet a full collection walks them all. On the gateway round trip (docs/performance-history.md, ninth
session, five interleaved pairs), settling cut the gateway's CPU per command by 15% and the enrolment
service's by 7%.

`settle_for_serving` collects once, moves everything alive into the collector's permanent generation
(`gc.freeze`: still freed by reference counting, never walked again) and collects the young
generation after 10,000 new objects instead of 700. Cycles made while serving are still collected,
just in larger, rarer batches; the memory this holds back is a few megabytes at most.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
OLDER_THRESHOLDS = (20, 10)


def settle_for_serving() -> None:
    """Call once, in a server process, after start-up and before the first request."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
