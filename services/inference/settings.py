"""Inference settings (`CONDUIT_INFERENCE_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONDUIT_INFERENCE_", frozen=True)

    backend: Literal["llama_cpp", "scripted"] = "llama_cpp"
    model_path: Path | None = None
    # One thread: two collapse to a fraction of the speed as soon as another process
    # (Kafka, a sibling service) wants the second core; prefill is only ~40% slower.
    n_threads: int = Field(default=1, ge=1)
    n_ctx: int = Field(default=4096, ge=512)
    max_tokens: int = Field(default=160, ge=1)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    price_per_1k_input_usd: float = Field(default=0.0, ge=0.0)
    price_per_1k_output_usd: float = Field(default=0.0, ge=0.0)
