"""Token buckets per caller: bursts allowed, then 429 with the wait; other callers unaffected."""

from __future__ import annotations

from gateway.ratelimit import TokenBuckets, caller_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_caller_waits_for_a_token_and_others_are_not_slowed() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.5  # one token back after half a second at 2/s
    assert buckets.take("b") == 0.0
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0.0


def test_the_bucket_refills_to_the_burst_only() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=2, clock=clock)
    buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a") for _ in range(3)][2] > 0.0


def test_forgotten_callers_beyond_the_limit_start_full() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_callers=2, clock=Clock())
    for caller in ("a", "b", "c"):
        buckets.take(caller)
    assert buckets.take("a") == 0.0  # "a" was forgotten when "c" came
    assert buckets.take("c") > 0.0


def test_callers_are_told_apart_by_a_digest_of_their_token_never_the_token() -> None:
    scope = {"headers": [(b"authorization", b"Bearer secret-token")], "client": ("10.0.0.1", 5555)}
    key = caller_key(scope)
    assert key.startswith("t:") and "secret" not in key
    assert caller_key({"headers": [], "client": ("10.0.0.1", 5555)}) == "a:10.0.0.1"
