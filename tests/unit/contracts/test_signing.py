"""Hospital request signatures: valid, tampered, missing, expired either way, and key rotation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from contracts.signing import (
    TOLERANCE,
    BadSignatureError,
    MissingSignatureError,
    SignatureError,
    SignatureExpiredError,
    VerifiedRequest,
    canonical_string,
    sign,
    verify,
)

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
OLD_KEY = b"old-key-of-hospital-h1-0123456789"
NEW_KEY = b"new-key-of-hospital-h1-9876543210"
BODY = b'{"hospital_settlement_no":"JS-1","lines":[]}'
PATH = "/injury/settlements"


def headers(key: bytes = NEW_KEY, *, at: datetime = NOW, message_id: str = "m-1", body: bytes = BODY) -> dict[str, str]:
    timestamp = int(at.timestamp())
    signature = sign(key, timestamp=timestamp, message_id=message_id, method="post", path=PATH, body=body)
    return {"timestamp": str(timestamp), "message_id": message_id, "signature": signature}


def check(
    sent: Mapping[str, str | None], *, body: bytes = BODY, keys: tuple[bytes, ...] = (NEW_KEY,), path: str = PATH
) -> VerifiedRequest:
    return verify(
        method="POST",
        path=path,
        body=body,
        timestamp=sent.get("timestamp"),
        message_id=sent.get("message_id"),
        signature=sent.get("signature"),
        keys=keys,
        now=NOW,
    )


def test_the_canonical_string_binds_time_id_method_path_and_body() -> None:
    text = canonical_string(timestamp=1700000000, message_id="m-1", method="post", path=PATH, body=b"")
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert text == f"1700000000\nm-1\nPOST\n{PATH}\n{empty_sha256}".encode()


def test_a_valid_signature_is_accepted() -> None:
    verified = check(dict(headers()))
    assert verified == VerifiedRequest(message_id="m-1", signed_at=NOW, key_index=0)


def test_both_keys_are_accepted_during_a_rotation() -> None:
    keys = (NEW_KEY, OLD_KEY)
    assert check(dict(headers(NEW_KEY)), keys=keys).key_index == 0
    assert check(dict(headers(OLD_KEY)), keys=keys).key_index == 1
    with pytest.raises(BadSignatureError):
        check(dict(headers(OLD_KEY)), keys=(NEW_KEY,))  # rotation over: the old key is refused


def test_a_tampered_body_path_or_id_is_refused() -> None:
    sent: dict[str, str | None] = dict(headers())
    with pytest.raises(BadSignatureError, match="no active key"):
        check(sent, body=BODY.replace(b"JS-1", b"JS-2"))
    with pytest.raises(BadSignatureError):
        check(sent, path="/injury/settlements/other")
    with pytest.raises(BadSignatureError):
        check({**sent, "message_id": "m-2"})
    with pytest.raises(BadSignatureError):
        check({**sent, "signature": "0" * 64})


def test_missing_headers_are_named() -> None:
    sent: dict[str, str | None] = dict(headers())
    for header, name in (("signature", "signature"), ("timestamp", "timestamp"), ("message_id", "message id")):
        with pytest.raises(MissingSignatureError, match=name):
            check({**sent, header: None})
        with pytest.raises(MissingSignatureError):
            check({**sent, header: "  "})


def test_unreadable_headers_are_bad_signatures() -> None:
    sent: dict[str, str | None] = dict(headers())
    for timestamp in ("yesterday", "-5", "1.5", "9" * 40):
        with pytest.raises(BadSignatureError, match="unix seconds"):
            check({**sent, "timestamp": timestamp})
    with pytest.raises(BadSignatureError, match="line break"):
        check(dict(headers(message_id="m\n1")))
    with pytest.raises(BadSignatureError, match="no active key"):
        check(sent, keys=())


@pytest.mark.parametrize("offset", [TOLERANCE, -TOLERANCE])
def test_the_window_edge_is_inside(offset: timedelta) -> None:
    assert check(dict(headers(at=NOW + offset))).signed_at == NOW + offset


@pytest.mark.parametrize(
    ("offset", "word"), [(-TOLERANCE - timedelta(seconds=1), "old"), (TOLERANCE + timedelta(seconds=1), "ahead")]
)
def test_outside_the_window_either_way_is_expired(offset: timedelta, word: str) -> None:
    with pytest.raises(SignatureExpiredError, match=word) as refused:
        check(dict(headers(at=NOW + offset)))
    assert refused.value.skew_seconds == int(offset.total_seconds())


def test_a_forged_old_request_is_bad_not_expired() -> None:
    forged = dict(headers(b"not-the-key", at=NOW - timedelta(hours=1)))
    with pytest.raises(BadSignatureError):
        check(forged)
    assert issubclass(SignatureExpiredError, SignatureError) and issubclass(BadSignatureError, SignatureError)


def test_an_empty_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign(b"", timestamp=1, message_id="m", method="POST", path="/", body=b"")


def test_each_refusal_has_a_stable_reason_code() -> None:
    assert MissingSignatureError("signature").reason == "signature-missing"
    assert BadSignatureError("why").reason == "signature-invalid"
    assert SignatureExpiredError(-400, 300).reason == "signature-expired"
