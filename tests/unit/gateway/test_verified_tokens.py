"""Verified tokens are reused until they expire, and the cache stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.auth import VerifiedTokens


def test_a_token_is_reused_until_its_expiry_then_verified_again() -> None:
    cache = VerifiedTokens()
    now = datetime.now(UTC).timestamp()
    cache.put("live", {"sub": "a", "exp": now + 60})
    cache.put("stale", {"sub": "b", "exp": now - 1})
    assert cache.get("live") == {"sub": "a", "exp": now + 60}
    assert cache.get("stale") is None
    assert cache.get("unknown") is None


def test_the_oldest_token_goes_first_when_the_cache_is_full() -> None:
    cache = VerifiedTokens(size=2)
    later = datetime.now(UTC).timestamp() + 60
    for token in ("t1", "t2", "t3"):
        cache.put(token, {"exp": later})
    assert (cache.get("t1"), cache.get("t2") is not None, cache.get("t3") is not None) == (None, True, True)
