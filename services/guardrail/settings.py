"""Guardrail settings, from `CONDUIT_GUARDRAIL_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GuardrailSettings(BaseSettings):
    """Example: `CONDUIT_GUARDRAIL_MAX_INPUT_CHARS=8000`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_GUARDRAIL_", frozen=True)

    max_input_chars: int = Field(default=4000, gt=0)
