"""Remembering the ids a customer gave, so a returning customer need not give them again.

The invoice and order ids a known user names are kept as facts of that user in memory
(`shared.memory`, so they outlive every process); a later request of the same user that
names none of a kind gets the remembered one as an entity marked `remembered`. Anonymous
callers share a user id, so nothing is remembered for them.
"""

from __future__ import annotations

import logging

from shared.contracts import Entity, StepEvent
from shared.memory import MemoryStore, MemoryUnavailable

log = logging.getLogger(__name__)

REMEMBERED_KINDS = ("invoice_id", "order_id")
FACT_PREFIX = "entity."
_ANONYMOUS = frozenset({"", "anonymous"})


class EntityMemory:
    """Example: `await EntityMemory(memory).remember_and_recall(event)` after extraction."""

    def __init__(self, memory: MemoryStore) -> None:
        self._memory = memory

    async def remember_and_recall(self, event: StepEvent) -> None:
        """Keep the ids `event` names; add the remembered ones of kinds it does not name.

        A memory store that is down costs the recall, not the request: it is logged."""
        envelope = event.envelope
        tenant, user = envelope.tenant_id, envelope.principal.user_id
        if user in _ANONYMOUS:
            return
        entities = event.intent.entities
        named = {e.kind: e.value for e in entities if e.kind in REMEMBERED_KINDS}
        try:
            for kind, value in named.items():
                await self._memory.upsert_fact(
                    tenant, user, FACT_PREFIX + kind, value, request_id=envelope.request_id
                )
            facts = await self._memory.facts(tenant, user)
        except MemoryUnavailable as exc:
            log.warning("memory unavailable, nothing remembered or recalled: %s", exc)
            return
        for fact in facts:
            kind = fact.key.removeprefix(FACT_PREFIX)
            if fact.key.startswith(FACT_PREFIX) and kind in REMEMBERED_KINDS and kind not in named:
                entities.append(Entity(kind=kind, value=fact.value, remembered=True))

    async def close(self) -> None:
        await self._memory.close()
