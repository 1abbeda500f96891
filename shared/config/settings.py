"""Process settings, read once at start-up from `CONDUIT_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.pii.sealing import public_key_from_text


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


class ConduitSettings(BaseSettings):
    """Settings every service shares. Example: `CONDUIT_BUS=kafka CONDUIT_KAFKA_BOOTSTRAP=...`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_", frozen=True)

    bus: Literal["memory", "kafka"] = "memory"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = Field(default=3, ge=1)
    # Consume-transform-produce in Kafka transactions: outputs and the consumed offset
    # commit atomically (exactly-once within Kafka); records of a partition go one by one.
    kafka_transactions: bool = False
    topic_prefix: str = "conduit"
    config_dir: Path = Field(default_factory=lambda: repo_root() / "config")
    data_dir: Path = Field(default_factory=lambda: repo_root() / "var")
    max_event_bytes: int = Field(default=1_000_000, gt=0)
    # Attempts of a step that fails unexpectedly; retries go through retry topics.
    handler_attempts: int = Field(default=3, ge=1)
    retry_backoff_s: float = Field(default=0.5, ge=0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    retry_max_wait_s: float = Field(default=300.0, gt=0)
    # Records a consumer works on at once (different sessions in parallel, one session in order).
    max_in_flight: int = Field(default=16, ge=1)
    # Kubernetes' default termination grace is 30 s: drain within it.
    shutdown_grace_s: float = Field(default=25.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # Prometheus `/metrics` on this port and address; none when unset.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_address: str = "0.0.0.0"
    # Metrics pushed over OTLP/HTTP to `otlp_endpoint` every interval ("none": not pushed).
    metrics_export: Literal["none", "otlp"] = "none"
    metrics_export_interval_s: float = Field(default=10.0, gt=0)
    # Tracing: "otlp" exports to `otlp_endpoint` (OTLP/HTTP, e.g. Jaeger's :4318), "file"
    # writes JSON lines to `trace_file` (default <data_dir>/traces.jsonl), "none" is off.
    traces: Literal["none", "otlp", "file"] = "none"
    otlp_endpoint: str = "http://127.0.0.1:4318"
    trace_file: Path | None = None
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Stop (gracefully) when the launching process dies: set by the local stack and tests.
    exit_with_parent: bool = False
    # The secret the gateway signs principals with and every service checks them against
    # (shared.security). Unset: no check, as in the embedded mode on one machine.
    principal_key: SecretStr | None = None

    # The tool-executor's PII vault public key (base64, `conduit pii-vault-keys` makes a
    # pair): set, the edge replaces personal data with vault tokens and seals the values for
    # the tools that need them; unset, with placeholders nothing can reverse.
    pii_vault_public_key: str | None = None

    # Memory (history, user facts, task state; shared.memory): the store, and where it is:
    # a file path for sqlite (default <data_dir>/memory/memory.sqlite3), a libpq URL for
    # postgres, a redis:// URL for redis. Retention per tenant is in <config_dir>/memory.yaml.
    memory_store: Literal["sqlite", "postgres", "redis"] = "sqlite"
    memory_url: SecretStr | None = None
    # Connect and command timeout: a store that is down fails fast with MemoryUnavailable.
    memory_timeout_s: float = Field(default=5.0, gt=0)

    def principal_key_bytes(self) -> bytes | None:
        return self.principal_key.get_secret_value().encode() if self.principal_key else None

    @field_validator("pii_vault_public_key")
    @classmethod
    def _vault_key_is_a_key(cls, value: str | None) -> str | None:
        if value is not None:
            public_key_from_text(value)
        return value

    def pii_vault_key(self) -> X25519PublicKey | None:
        text = self.pii_vault_public_key
        return None if text is None else public_key_from_text(text)
