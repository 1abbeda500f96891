"""Settings of the tool-executor, from `CONDUIT_TOOL_EXECUTOR_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import ConduitSettings
from shared.pii.sealing import VaultKeys


class ToolExecutorSettings(BaseSettings):
    """Example: `CONDUIT_TOOL_EXECUTOR_DB=/srv/acme/business.sqlite3`."""

    model_config = SettingsConfigDict(env_prefix="CONDUIT_TOOL_EXECUTOR_", frozen=True)

    # The company's systems; created from config/demo/business.sql when missing.
    db: Path | None = None
    # The PII vault's private key (base64; `conduit pii-vault-keys`). Its public half is
    # `CONDUIT_PII_VAULT_PUBLIC_KEY`, which the edge seals personal data to.
    pii_vault_private_key: SecretStr | None = None

    @field_validator("pii_vault_private_key")
    @classmethod
    def _vault_key_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            VaultKeys.from_text(value.get_secret_value())
        return value

    def business_db(self, settings: ConduitSettings) -> Path:
        return self.db or state_dir(settings) / "business.sqlite3"

    def vault_keys(self, settings: ConduitSettings) -> VaultKeys | None:
        """The vault's keys; `ValueError` when the edge seals to another public key."""
        if self.pii_vault_private_key is None:
            return None
        keys = VaultKeys.from_text(self.pii_vault_private_key.get_secret_value())
        published = settings.pii_vault_public_key
        if published is not None and published.strip() != keys.public_text():
            raise ValueError(
                "CONDUIT_PII_VAULT_PUBLIC_KEY is not the public half of "
                "CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY: the vault could open no seal"
            )
        return keys


def state_dir(settings: ConduitSettings) -> Path:
    return settings.data_dir / "tool-executor"


def ledger_path(settings: ConduitSettings) -> Path:
    return state_dir(settings) / "ledger.sqlite3"


def vault_path(settings: ConduitSettings) -> Path:
    return state_dir(settings) / "pii-vault.sqlite3"
