"""Settings of the tool-executor, from `CONDUIT_TOOL_EXECUTOR_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import ConduitSettings


class ToolExecutorSettings(BaseSettings):
    """Example: `CONDUIT_TOOL_EXECUTOR_DB=/srv/acme/business.sqlite3`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_TOOL_EXECUTOR_", frozen=True)

    # The company's systems; created from config/demo/business.sql when missing.
    db: Path | None = None

    def business_db(self, settings: ConduitSettings) -> Path:
        return self.db or state_dir(settings) / "business.sqlite3"


def state_dir(settings: ConduitSettings) -> Path:
    return settings.data_dir / "tool-executor"


def ledger_path(settings: ConduitSettings) -> Path:
    return state_dir(settings) / "ledger.sqlite3"
