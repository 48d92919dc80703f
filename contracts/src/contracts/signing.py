"""Partner request signatures (hospitals): HMAC-SHA256 over timestamp, message id, method, path and body.

Signed content (one line each, then the body's SHA-256 in lower-case hex):

    {timestamp}\\n{message_id}\\n{METHOD}\\n{path}\\n{sha256(body)}

`timestamp` is unix seconds and `path` the request target as sent (query string included); the
signature is the lower-case hex HMAC-SHA256 of that text with the hospital's key. A request is
accepted when the signature matches one of the hospital's active keys (two during a rotation),
compared in constant time, and was signed within 5 minutes either way of our clock. The message id
is signed so it cannot be swapped: the receiver refuses a replay by remembering ids for longer than
the window. The raw body is verified before anything parses it. Standard Webhooks / Stripe style
(reliability-ecosystem 2.2). One implementation, used by the gateway and by hospitals' test clients.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TOLERANCE = timedelta(minutes=5)


class SignatureError(ValueError):
    """A partner request whose signature cannot be accepted; `reason` is a short stable code."""

    reason = "signature-invalid"


class MissingSignatureError(SignatureError):
    reason = "signature-missing"

    def __init__(self, what: str) -> None:
        super().__init__(f"the request carries no {what}: every hospital request is signed")


class BadSignatureError(SignatureError):
    reason = "signature-invalid"

    def __init__(self, why: str) -> None:
        super().__init__(f"the request signature is not valid: {why}")


class SignatureExpiredError(SignatureError):
    reason = "signature-expired"

    def __init__(self, skew_seconds: int, tolerance_seconds: int) -> None:
        self.skew_seconds = skew_seconds
        direction = "old" if skew_seconds < 0 else "ahead of our clock"
        super().__init__(
            f"the request was signed {abs(skew_seconds)} s {direction}: signatures are accepted within "
            f"{tolerance_seconds} s either way, so a captured request cannot be replayed later"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedRequest:
    """A request whose signature holds; `key_index` says which active key signed it (rotation)."""

    message_id: str
    signed_at: datetime
    key_index: int


def canonical_string(*, timestamp: int, message_id: str, method: str, path: str, body: bytes) -> bytes:
    """The exact bytes that are signed."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{message_id}\n{method.upper()}\n{path}\n{digest}".encode()


def sign(key: bytes, *, timestamp: int, message_id: str, method: str, path: str, body: bytes) -> str:
    """The signature a hospital sends: hex HMAC-SHA256 of the canonical string with its key."""
    if not key:
        raise ValueError("a signing key must not be empty")
    content = canonical_string(timestamp=timestamp, message_id=message_id, method=method, path=path, body=body)
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def _present(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise MissingSignatureError(what)
    return value


def _timestamp(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise BadSignatureError(f"timestamp {raw!r} is not unix seconds")
    return int(raw)


def verify(
    *,
    method: str,
    path: str,
    body: bytes,
    timestamp: str | None,
    message_id: str | None,
    signature: str | None,
    keys: Sequence[bytes],
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> VerifiedRequest:
    """Check a request's signature headers against the hospital's active keys.

    Raises MissingSignatureError (a header absent or empty), BadSignatureError (unreadable, or made
    with no active key, or over other content) or SignatureExpiredError (an authentic signature
    outside the window). The signature is checked first, so "expired" is only said of genuine
    requests, such as a replay of a captured one.
    """
    given = _present(signature, "signature")
    seconds = _timestamp(_present(timestamp, "timestamp"))
    mid = _present(message_id, "message id")
    if "\n" in mid:
        raise BadSignatureError("the message id contains a line break")
    if not keys:
        raise BadSignatureError("the hospital has no active key")
    content = canonical_string(timestamp=seconds, message_id=mid, method=method, path=path, body=body)
    offered = given.lower().encode()
    matched = [
        index
        for index, key in enumerate(keys)
        if key and hmac.compare_digest(hmac.new(key, content, hashlib.sha256).hexdigest().encode(), offered)
    ]
    if not matched:
        raise BadSignatureError("it matches no active key of the hospital over this content")
    skew = seconds - int(now.timestamp())
    if abs(skew) > tolerance.total_seconds():
        raise SignatureExpiredError(skew, int(tolerance.total_seconds()))
    signed_at = datetime.fromtimestamp(seconds, tz=UTC)
    return VerifiedRequest(message_id=mid, signed_at=signed_at, key_index=matched[0])
