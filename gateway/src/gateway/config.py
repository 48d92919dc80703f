"""Gateway settings (environment variables, prefix `YIWANG_`)."""

from __future__ import annotations

from pydantic import Field

from runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    host: str = "127.0.0.1"
    port: int = 8000
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = 1_000_000
    # Per caller (bearer token, else client address), per gateway process: average and burst.
    rate_limit_per_second: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    online_channels: frozenset[str] = frozenset({"web_hall", "mobile_app", "kiosk", "partner", "system"})
    jwt_secret: str = Field(default="yiwang-development-secret-change-me-32bytes", min_length=32)
