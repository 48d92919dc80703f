"""Gateway settings (environment variables, prefix `YIWANG_`)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    model_config = SettingsConfigDict(hide_input_in_errors=True)  # a refused setting never echoes a secret

    host: str = "127.0.0.1"
    port: int = 8000
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = 1_000_000
    # Per caller (bearer token, else client address), per gateway process: average and burst.
    rate_limit_per_second: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    online_channels: frozenset[str] = frozenset({"web_hall", "mobile_app", "kiosk", "partner", "system"})
    jwt_secret: str = Field(default="yiwang-development-secret-change-me-32bytes", min_length=32)
    # The agency identity provider (docs/security.md): its published keys, the issuer it signs as,
    # the audience its tokens name; and whether development HS256 tokens are still accepted.
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str = "yiwang-gateway"
    allow_shared_secret: bool = True
    # Hospital id -> its active signing keys, newest first (two during a rotation): JSON in YIWANG_HOSPITAL_KEYS.
    hospital_keys: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("hospital_keys")
    @classmethod
    def _usable_keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for hospital, keys in value.items():
            if not re.fullmatch(r"[A-Za-z0-9]{2,32}", hospital):
                raise ValueError(f"hospital id {hospital!r} is not 2-32 letters and digits")
            if not 1 <= len(keys) <= 2 or any(len(k.encode()) < 24 for k in keys):
                raise ValueError(f"hospital {hospital} needs one or two keys (two while rotating) of 24+ bytes")
        return value

    @model_validator(mode="after")
    def _provider_names_its_issuer(self) -> GatewaySettings:
        if self.jwks_url and not self.jwt_issuer:
            raise ValueError("YIWANG_JWKS_URL needs YIWANG_JWT_ISSUER: tokens are checked against their issuer")
        return self
