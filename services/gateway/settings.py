"""Gateway settings (`CONDUIT_GATEWAY_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.gateway.limits import Limits


class GatewaySettings(BaseSettings):
    """Example: `CONDUIT_GATEWAY_HTTP_PORT=8080 CONDUIT_GATEWAY_RATE_PER_S=5 python -m
    services.gateway`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_GATEWAY_", frozen=True)

    host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=1, le=65535)
    grpc_port: int = Field(default=50051, ge=1, le=65535)
    # Hashed API keys (default: <config_dir>/api_keys.yaml).
    api_keys_file: Path | None = None
    # JWTs: HS256 signed with this secret and/or RS256 verified with this PEM public key;
    # neither set: API keys only.
    jwt_secret: SecretStr | None = None
    jwt_public_key_file: Path | None = None
    jwt_audience: str = "conduit"
    # Per tenant unless a key declares its own limits in the API key file.
    rate_per_s: float = Field(default=10.0, gt=0)
    burst: int = Field(default=20, ge=1)
    max_in_flight: int = Field(default=32, ge=1)
    # Unset: limits are counted per gateway process. Set (redis://host:6379/0): counted in
    # Redis, shared by every replica. Unreachable Redis admits (fail open) unless told not to.
    limits_redis_url: str | None = None
    limits_fail_open: bool = True
    # A request body over this is refused with 413 before it is read in full.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_text_chars: int = Field(default=4000, ge=1)
    max_history_turns: int = Field(default=50, ge=0)
    # Stored turns of the session sent with a request that brings no history of its own,
    # within this many tokens: older turns are folded into the session's stored summary
    # (the `summarise_history` workflow, so by the model).
    history_turns: int = Field(default=20, ge=0)
    history_budget_tokens: int = Field(default=600, ge=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    # Time a stopping gateway gives answers in flight.
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    @property
    def default_limits(self) -> Limits:
        return Limits(
            rate_per_s=self.rate_per_s, burst=self.burst, max_in_flight=self.max_in_flight
        )

    def api_keys_path(self, config_dir: Path) -> Path:
        return self.api_keys_file or config_dir / "api_keys.yaml"
