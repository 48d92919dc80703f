"""Process settings from environment variables (prefix `YIWANG_`), read once in `__main__`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.outbox import LINGER


class RuntimeSettings(BaseSettings):
    """What every yiwang process needs to find its servers and name its traffic.

    Point `nats_url` and `database_url` at existing servers to run against them instead of the
    embedded ones.
    """

    model_config = SettingsConfigDict(env_prefix="YIWANG_", extra="ignore")

    region: str = Field(default="36", pattern=r"^[0-9]{2}$")
    regions: tuple[str, ...] = ("36", "44")
    nats_url: str = "nats://127.0.0.1:4222"
    nats_monitor_url: str | None = None
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    subject_root: str = Field(default="yiwang", pattern=r"^[a-z][a-z0-9_]*$")
    jetstream_replicas: int = Field(default=1, ge=1, le=5)
    require_sync_always: bool = True
    duplicate_window_seconds: float = 1800.0
    health_port: int | None = None
    log_level: str = "INFO"
    pool_size: int = Field(default=16, ge=2)
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # The embedded trace store's size: JetStream reserves it from its memory store.
    trace_stream_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024 * 1024)
    pseudonym_salt: str = "yiwang-development-salt"
    # Streams whose folded state a service keeps in memory (`runtime.recording.FoldedStreams`): a
    # person's state holds 2-5 KB in a year, so 20,000 take 40-100 MB.
    kept_states: int = Field(default=20_000, ge=0)
    # Stall alerts (runtime.watch): how often each consumer and projection is sampled, and for how
    # long it may be saturated, make no progress or be held back before an alert is raised.
    watch_interval_seconds: float = Field(default=10.0, gt=0)
    stall_after_seconds: float = Field(default=30.0, gt=0)
    # The most the outbox relay holds messages back to send them as one atomic batch, when they come
    # fast enough to make one in that time (runtime.outbox.OutboxRelay's `linger`); 0: never.
    relay_linger_seconds: float = Field(default=LINGER, ge=0.0, le=1.0)

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
