"""Reusing model responses: an exact-match cache on disk and a semantic cache in memory.

Both are per tenant (a tenant never receives another tenant's answer) and opt-in per
workflow step through its `params.cache`:

    params: {max_tokens: 160, cache: {mode: exact, ttl_s: 600}}

The rule that keeps caching safe: a step is served from cache only when its output cannot
be a tool call (`cacheable`). A cached tool call would repeat, or silently skip, a side
effect decided for another request, so whenever the step's output schema leaves the model
any way to choose `call_tool`, the cache is bypassed whatever the step configures.

Lookups are counted in `conduit_cache_lookups_total{cache="response_exact"|
"response_semantic", result="hit"|"miss"}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.inference.backends.base import Generation, GenerationRequest
from shared.agent import CALL_TOOL
from shared.embeddings import Embedder
from shared.embeddings.embedder import F32
from shared.models.chat import ChatMessage
from shared.runtime import StepMisconfigured
from shared.storage import SqliteWorker
from shared.telemetry.metrics import CACHE_LOOKUPS

Clock = Callable[[], float]


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _record_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.add(1, {"cache": cache, "result": "hit" if hit else "miss"})


class CachePolicy(BaseModel):
    """How a step may reuse responses, from its `params.cache`.

    Example:
        >>> CachePolicy.from_step_params({"cache": {"mode": "exact", "ttl_s": 600}}).mode
        'exact'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["none", "exact", "semantic"] = "none"
    ttl_s: float = Field(default=3600, gt=0)
    threshold: float = Field(default=0.95, gt=0, le=1)  # cosine similarity, semantic mode

    @classmethod
    def from_step_params(cls, params: Mapping[str, Any]) -> CachePolicy:
        """The step's policy (no caching when it names none); a bad one misconfigures it."""
        try:
            return cls.model_validate(params.get("cache") or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"params.cache.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise StepMisconfigured(f"invalid cache policy: {problems}") from exc


def cacheable(policy: CachePolicy, json_schema: Mapping[str, Any] | None) -> bool:
    """Whether a step with this policy and output schema may be served from cache.

    Free text (no schema) cannot call a tool. A structured output is cacheable only when
    every option it allows (the schema itself, or each branch of a top-level `oneOf` or
    `anyOf`) pins `action` to values other than `call_tool`. An option that leaves `action`
    open could still produce a tool call, so it makes the step uncacheable too.
    """
    if policy.mode == "none":
        return False
    if json_schema is None:
        return True
    options = json_schema.get("oneOf") or json_schema.get("anyOf") or [json_schema]
    return all(_pins_action_away_from_tools(option) for option in options)


def _pins_action_away_from_tools(option: Any) -> bool:
    action = option.get("properties", {}).get("action") if isinstance(option, Mapping) else None
    if not isinstance(action, Mapping):
        return False
    if "const" in action:
        return bool(action["const"] != CALL_TOOL)
    allowed = action.get("enum")
    return isinstance(allowed, list) and CALL_TOOL not in allowed


def _effective_seed(request: GenerationRequest) -> int | None:
    # Greedy decoding (temperature 0) ignores the seed; the service derives it from the
    # request id, so keeping it would make every request miss.
    return request.seed if request.temperature > 0 else None


@dataclass(frozen=True, kw_only=True)
class CacheKey:
    """The identity of a response: tenant, model, rendered chat and generation parameters.

    Request and session ids are deliberately absent, so equal requests share an entry.

    Example:
        >>> key = CacheKey.for_request("acme", "smollm2", GenerationRequest(
        ...     messages=[ChatMessage(role="user", content="Hi")], max_tokens=32))
        >>> len(key.digest)
        64
    """

    tenant_id: str
    digest: str  # sha256 over the canonical JSON of everything that shapes the output

    @classmethod
    def for_request(cls, tenant_id: str, model: str, request: GenerationRequest) -> CacheKey:
        identity = {
            "tenant_id": tenant_id,
            "model": model,
            "messages": [[message.role, message.content] for message in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": float(request.temperature),
            "seed": _effective_seed(request),
            "json_schema": request.json_schema,
        }
        digest = hashlib.sha256(_canonical_json(identity).encode()).hexdigest()
        return cls(tenant_id=tenant_id, digest=digest)


_EXACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  text TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  finish_reason TEXT NOT NULL,
  model TEXT NOT NULL,
  stored_at REAL NOT NULL,
  expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_tenant ON responses (tenant_id);
CREATE INDEX IF NOT EXISTS responses_stored_at ON responses (stored_at);
CREATE INDEX IF NOT EXISTS responses_expires_at ON responses (expires_at);
"""


class ExactResponseCache:
    """Responses by `CacheKey`, in a SQLite file that processes of the service may share.

    Entries expire `ttl_s` after they are stored (or the `ttl_s` given to `put`); beyond
    `max_entries` the oldest are evicted.

    Example:
        >>> cache = ExactResponseCache(Path("var/inference/responses.sqlite3"),
        ...                            ttl_s=3600, max_entries=10_000)
        >>> key = CacheKey.for_request(tenant_id, backend.name, request)  # doctest: +SKIP
        >>> if (generation := await cache.get(key)) is None:  # doctest: +SKIP
        ...     generation = await backend.generate(request)
        ...     await cache.put(key, generation)
    """

    CACHE_NAME = "response_exact"

    def __init__(
        self, path: Path, *, ttl_s: float, max_entries: int, clock: Clock = time.time
    ) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError(f"need ttl_s > 0 and max_entries >= 1, got {ttl_s}, {max_entries}")
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._worker = SqliteWorker(path, schema=_EXACT_SCHEMA, name="response-cache")

    async def get(self, key: CacheKey) -> Generation | None:
        """The stored generation, or None when absent or expired (an expired one is deleted)."""
        generation = await self._worker.run(lambda db: self._get_now(db, key, self._clock()))
        _record_lookup(self.CACHE_NAME, generation is not None)
        return generation

    async def put(
        self, key: CacheKey, generation: Generation, *, ttl_s: float | None = None
    ) -> None:
        ttl = self._ttl_s if ttl_s is None else ttl_s
        await self._worker.run(lambda db: self._put_now(db, key, generation, self._clock(), ttl))

    async def clear_tenant(self, tenant_id: str) -> int:
        """Forgets every response of the tenant; returns how many there were."""
        return await self._worker.run(
            lambda db: (
                db.execute("DELETE FROM responses WHERE tenant_id = ?", (tenant_id,)).rowcount
            )
        )

    async def close(self) -> None:
        await self._worker.close()

    @staticmethod
    def _get_now(db: sqlite3.Connection, key: CacheKey, now: float) -> Generation | None:
        row = db.execute(
            "SELECT * FROM responses WHERE key = ? AND tenant_id = ?", (key.digest, key.tenant_id)
        ).fetchone()
        if row is None:
            return None
        if row["expires_at"] <= now:
            db.execute("DELETE FROM responses WHERE key = ?", (key.digest,))
            return None
        return Generation(
            text=row["text"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            finish_reason=row["finish_reason"],
            model=row["model"],
        )

    def _put_now(
        self, db: sqlite3.Connection, key: CacheKey, generation: Generation, now: float, ttl: float
    ) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO responses (key, tenant_id, text, input_tokens,"
                " output_tokens, finish_reason, model, stored_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.digest,
                    key.tenant_id,
                    generation.text,
                    generation.input_tokens,
                    generation.output_tokens,
                    generation.finish_reason,
                    generation.model,
                    now,
                    now + ttl,
                ),
            )
            db.execute("DELETE FROM responses WHERE expires_at <= ?", (now,))
            db.execute(
                "DELETE FROM responses WHERE key IN (SELECT key FROM responses"
                " ORDER BY stored_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (self._max_entries,),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def last_user_text(messages: Sequence[ChatMessage]) -> str | None:
    """The customer's latest message, which the semantic cache compares; None if none."""
    return next((m.content for m in reversed(messages) if m.role == "user"), None)


@dataclass(frozen=True, kw_only=True)
class RequestShape:
    """What must match exactly for a semantically similar answer to be reused.

    Example:
        >>> RequestShape.for_request("smollm2", GenerationRequest(
        ...     messages=[ChatMessage(role="user", content="Hi")], max_tokens=32)).max_tokens
        32
    """

    model: str
    max_tokens: int
    temperature: float
    json_schema: str  # canonical JSON, "null" for free text

    @classmethod
    def for_request(cls, model: str, request: GenerationRequest) -> RequestShape:
        return cls(
            model=model,
            max_tokens=request.max_tokens,
            temperature=float(request.temperature),
            json_schema=_canonical_json(request.json_schema),
        )


@dataclass(frozen=True, kw_only=True)
class _SemanticEntry:
    vector: F32
    shape: RequestShape
    generation: Generation
    expires_at: float


class SemanticResponseCache:
    """Answers reused for questions close in meaning, per tenant, in this process's memory.

    An entry is found by the cosine similarity of the embedded texts (at least `threshold`)
    among the tenant's unexpired entries of the same `RequestShape`; the most similar wins.
    Beyond `max_entries_per_tenant` a tenant's oldest entry is evicted. Give it a caching
    embedder (`default_query_embedder()`) so a miss followed by `put` embeds the text once.

    Example:
        >>> cache = SemanticResponseCache(default_query_embedder(), threshold=0.95,
        ...                               ttl_s=3600, max_entries_per_tenant=1000)  # doctest: +SKIP
        >>> shape = RequestShape.for_request(backend.name, request)  # doctest: +SKIP
        >>> await cache.get("acme", "where is my refund?", shape)  # doctest: +SKIP
    """

    CACHE_NAME = "response_semantic"

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float,
        ttl_s: float,
        max_entries_per_tenant: int,
        clock: Clock = time.time,
    ) -> None:
        if not 0 < threshold <= 1 or ttl_s <= 0 or max_entries_per_tenant < 1:
            raise ValueError(
                "need 0 < threshold <= 1, ttl_s > 0 and max_entries_per_tenant >= 1, got "
                f"{threshold}, {ttl_s}, {max_entries_per_tenant}"
            )
        self._embedder = embedder
        self._threshold = threshold
        self._ttl_s = ttl_s
        self._max_entries = max_entries_per_tenant
        self._clock = clock
        self._entries: dict[str, list[_SemanticEntry]] = {}
        self._lock = threading.Lock()  # lookups and stores run in worker threads

    async def get(
        self, tenant_id: str, text: str, shape: RequestShape, *, threshold: float | None = None
    ) -> Generation | None:
        """The best match at or above the threshold (the step's own, if given), or None."""
        minimum = self._threshold if threshold is None else threshold
        generation = await asyncio.to_thread(self._get_now, tenant_id, text, shape, minimum)
        _record_lookup(self.CACHE_NAME, generation is not None)
        return generation

    async def put(
        self,
        tenant_id: str,
        text: str,
        shape: RequestShape,
        generation: Generation,
        *,
        ttl_s: float | None = None,
    ) -> None:
        ttl = self._ttl_s if ttl_s is None else ttl_s
        await asyncio.to_thread(self._put_now, tenant_id, text, shape, generation, ttl)

    def _vector(self, text: str) -> F32:
        [vector] = self._embedder.embed([text])
        norm = float(np.linalg.norm(vector))
        unit: F32 = vector / norm if norm > 0 else vector
        return unit

    def _get_now(
        self, tenant_id: str, text: str, shape: RequestShape, minimum: float
    ) -> Generation | None:
        now = self._clock()
        with self._lock:
            live = [e for e in self._entries.pop(tenant_id, []) if e.expires_at > now]
            if live:
                self._entries[tenant_id] = live
            candidates = [entry for entry in live if entry.shape == shape]
        if not candidates:
            return None
        similarities = np.stack([entry.vector for entry in candidates]) @ self._vector(text)
        best = int(np.argmax(similarities))
        return candidates[best].generation if similarities[best] >= minimum else None

    def _put_now(
        self, tenant_id: str, text: str, shape: RequestShape, generation: Generation, ttl: float
    ) -> None:
        entry = _SemanticEntry(
            vector=self._vector(text),
            shape=shape,
            generation=generation,
            expires_at=self._clock() + ttl,
        )
        with self._lock:
            entries = [*self._entries.get(tenant_id, []), entry]
            self._entries[tenant_id] = entries[-self._max_entries :]
