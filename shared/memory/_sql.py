"""The SQL both relational stores run, with `?` placeholders (`postgres_store` converts).

Turns and summaries expire with their session's row, facts with their user's (every fact
of a user gets the expiry of the latest write), task state per key.
"""

from __future__ import annotations

from shared.memory.base import WriteStamp

SCHEMA = """
CREATE TABLE IF NOT EXISTS memory_sessions (
  tenant_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  next_seq BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX IF NOT EXISTS memory_sessions_expiry ON memory_sessions (expires_at_ms);
CREATE TABLE IF NOT EXISTS memory_turns (
  tenant_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  request_id TEXT NOT NULL,
  at_unix_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, session_id, seq)
);
CREATE TABLE IF NOT EXISTS memory_summaries (
  tenant_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  through_seq BIGINT NOT NULL,
  at_unix_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, session_id)
);
CREATE TABLE IF NOT EXISTS memory_facts (
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  request_id TEXT NOT NULL,
  at_unix_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, user_id, key)
);
CREATE INDEX IF NOT EXISTS memory_facts_expiry ON memory_facts (expires_at_ms);
CREATE TABLE IF NOT EXISTS memory_tasks (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  document TEXT NOT NULL,
  version BIGINT NOT NULL,
  at_unix_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX IF NOT EXISTS memory_tasks_expiry ON memory_tasks (expires_at_ms);
"""

SESSION = (
    "SELECT next_seq, expires_at_ms FROM memory_sessions WHERE tenant_id = ? AND session_id = ?"
)
PUT_SESSION = (
    "INSERT INTO memory_sessions VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, session_id)"
    " DO UPDATE SET next_seq = excluded.next_seq, expires_at_ms = excluded.expires_at_ms"
)
FORGET_SESSION = (
    "DELETE FROM memory_turns WHERE tenant_id = ? AND session_id = ?",
    "DELETE FROM memory_summaries WHERE tenant_id = ? AND session_id = ?",
)
_LIVE_SESSION = (
    "JOIN memory_sessions s ON s.tenant_id = x.tenant_id AND s.session_id = x.session_id"
    " WHERE x.tenant_id = ? AND x.session_id = ? AND s.expires_at_ms > ?"
)
NEWEST_TURNS = (
    "SELECT x.seq, x.role, x.content, x.request_id, x.at_unix_ms FROM memory_turns x "
    + _LIVE_SESSION
    + " ORDER BY x.seq DESC LIMIT ?"
)
SUMMARY = "SELECT x.summary, x.through_seq FROM memory_summaries x " + _LIVE_SESSION
PUT_SUMMARY = (
    "INSERT INTO memory_summaries VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, session_id)"
    " DO UPDATE SET summary = excluded.summary, through_seq = excluded.through_seq,"
    " at_unix_ms = excluded.at_unix_ms"
)

DROP_EXPIRED_FACTS_OF_USER = (
    "DELETE FROM memory_facts WHERE tenant_id = ? AND user_id = ? AND expires_at_ms <= ?"
)
UPSERT_FACT = (
    "INSERT INTO memory_facts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id, key)"
    " DO UPDATE SET value = excluded.value, request_id = excluded.request_id,"
    " at_unix_ms = excluded.at_unix_ms, expires_at_ms = excluded.expires_at_ms"
)
SLIDE_FACTS = "UPDATE memory_facts SET expires_at_ms = ? WHERE tenant_id = ? AND user_id = ?"
FACTS = (
    "SELECT key, value, request_id, at_unix_ms FROM memory_facts"
    " WHERE tenant_id = ? AND user_id = ? AND expires_at_ms > ? ORDER BY key"
)
DELETE_FACT = (
    "DELETE FROM memory_facts WHERE tenant_id = ? AND user_id = ? AND key = ? AND expires_at_ms > ?"
)

TASK_STATE = (
    "SELECT document, version, at_unix_ms FROM memory_tasks"
    " WHERE tenant_id = ? AND key = ? AND expires_at_ms > ?"
)
TASK_VERSION = (
    "SELECT version FROM memory_tasks WHERE tenant_id = ? AND key = ? AND expires_at_ms > ?"
)
# Each write is one statement that checks the version it replaces, so that two workers
# racing on the same key cannot both succeed: no row returned means a conflict.
CREATE_TASK_STATE = (
    "INSERT INTO memory_tasks VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (tenant_id, key)"
    " DO UPDATE SET document = excluded.document, version = 1,"
    " at_unix_ms = excluded.at_unix_ms, expires_at_ms = excluded.expires_at_ms"
    " WHERE memory_tasks.expires_at_ms <= excluded.at_unix_ms RETURNING version"
)
UPDATE_TASK_STATE = (
    "UPDATE memory_tasks SET document = ?, version = version + 1, at_unix_ms = ?,"
    " expires_at_ms = ? WHERE tenant_id = ? AND key = ? AND version = ? AND expires_at_ms > ?"
    " RETURNING version"
)

_SESSION_EXPIRED = (
    "EXISTS (SELECT 1 FROM memory_sessions s WHERE s.tenant_id = {table}.tenant_id"
    " AND s.session_id = {table}.session_id AND s.expires_at_ms <= ?)"
)
PRUNE = (
    "DELETE FROM memory_turns WHERE " + _SESSION_EXPIRED.format(table="memory_turns"),
    "DELETE FROM memory_summaries WHERE " + _SESSION_EXPIRED.format(table="memory_summaries"),
    "DELETE FROM memory_sessions WHERE expires_at_ms <= ?",
    "DELETE FROM memory_facts WHERE expires_at_ms <= ?",
    "DELETE FROM memory_tasks WHERE expires_at_ms <= ?",
)


def task_state_write(
    tenant_id: str, key: str, document_json: str, expected_version: int, stamp: WriteStamp
) -> tuple[str, tuple[str | int, ...]]:
    """The statement (and its parameters) that writes version `expected_version + 1`."""
    at, expires = stamp.at_ms, stamp.expires_at_ms
    if expected_version == 0:
        return CREATE_TASK_STATE, (tenant_id, key, document_json, at, expires)
    return UPDATE_TASK_STATE, (document_json, at, expires, tenant_id, key, expected_version, at)
