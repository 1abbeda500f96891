"""Memory behind one interface: conversation history, user facts, task state, summaries.

`open_memory(settings)` returns the configured `MemoryStore` (SQLite embedded, PostgreSQL
or Redis); `config/memory.yaml` sets each tenant's retention; `prune_to_budget` fits a
session's history into a prompt budget by summarising what no longer fits.
"""

from shared.memory.errors import MemoryUnavailable, TaskStateConflict
from shared.memory.factory import open_memory
from shared.memory.postgres_store import PostgresMemory
from shared.memory.pruning import PrunedHistory, prune_to_budget
from shared.memory.records import Fact, JsonDocument, SessionSummary, StoredTurn, TaskState
from shared.memory.redis_store import RedisMemory
from shared.memory.retention import (
    MemoryRetention,
    RetentionOverrides,
    RetentionPeriods,
    load_retention,
)
from shared.memory.sqlite_store import SqliteMemory
from shared.memory.store import MemoryStore

__all__ = [
    "Fact",
    "JsonDocument",
    "MemoryRetention",
    "MemoryStore",
    "MemoryUnavailable",
    "PostgresMemory",
    "PrunedHistory",
    "RedisMemory",
    "RetentionOverrides",
    "RetentionPeriods",
    "SessionSummary",
    "SqliteMemory",
    "StoredTurn",
    "TaskState",
    "TaskStateConflict",
    "load_retention",
    "open_memory",
    "prune_to_budget",
]
