"""Inference settings (`CONDUIT_INFERENCE_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONDUIT_INFERENCE_", frozen=True)

    # Without a models file, one model: the local llama.cpp one or the scripted stand-in.
    backend: Literal["llama_cpp", "scripted"] = "llama_cpp"
    # Named models and the routes that choose among them (e.g. config/models.yaml).
    models_file: Path | None = None
    # Daily token and cost limits per tenant (default: <config_dir>/budgets.yaml).
    budgets_file: Path | None = None
    # Response caches, used by steps that opt in with `params.cache` (never tool calls).
    cache_ttl_s: float = Field(default=3600.0, gt=0)
    cache_max_entries: int = Field(default=10_000, ge=1)
    semantic_cache_threshold: float = Field(default=0.95, gt=0, le=1)
    model_path: Path | None = None
    # One thread: two collapse to a fraction of the speed as soon as another process
    # (Kafka, a sibling service) wants the second core; prefill is only ~40% slower.
    n_threads: int = Field(default=1, ge=1)
    n_ctx: int = Field(default=4096, ge=512)
    max_tokens: int = Field(default=160, ge=1)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    price_per_1k_input_usd: float = Field(default=0.0, ge=0.0)
    price_per_1k_output_usd: float = Field(default=0.0, ge=0.0)
