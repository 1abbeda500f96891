"""The memory store the settings choose: `CONDUIT_MEMORY_STORE` and `CONDUIT_MEMORY_URL`."""

from __future__ import annotations

from pathlib import Path

from shared.config import ConduitSettings
from shared.memory.postgres_store import PostgresMemory
from shared.memory.redis_store import RedisMemory
from shared.memory.retention import MemoryRetention, load_retention
from shared.memory.sqlite_store import SqliteMemory
from shared.memory.store import MemoryStore

RETENTION_FILE = "memory.yaml"


def open_memory(settings: ConduitSettings, retention: MemoryRetention | None = None) -> MemoryStore:
    """The configured store, connecting on first use; `retention` defaults to
    `<config_dir>/memory.yaml`. Example: `open_memory(ConduitSettings(memory_store="redis",
    memory_url="redis://127.0.0.1:6379/0"))`."""
    retention = retention or load_retention(settings.config_dir / RETENTION_FILE)
    url = settings.memory_url.get_secret_value() if settings.memory_url else None
    timeout_s = settings.memory_timeout_s
    if settings.memory_store == "sqlite":
        path = Path(url) if url else settings.data_dir / "memory" / "memory.sqlite3"
        return SqliteMemory(path, retention, timeout_s=timeout_s)
    if url is None:
        raise ValueError(
            f"CONDUIT_MEMORY_URL is required with CONDUIT_MEMORY_STORE={settings.memory_store}"
        )
    if settings.memory_store == "postgres":
        return PostgresMemory(url, retention, timeout_s=timeout_s)
    return RedisMemory(url, retention, timeout_s=timeout_s)
