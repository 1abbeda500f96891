"""Remembering what a customer told us, so a returning customer need not say it again.

The invoice and order ids a known user names, and the preferences they state, are kept as
facts of that user in memory (`shared.memory`, so they outlive every process). A later
request of the same user that names no id of a kind gets the remembered one as an entity
marked `remembered`; every remembered preference it does not restate comes along the same
way in `intent.preferences`. Anonymous callers share a user id, so nothing is remembered
for them.
"""

from __future__ import annotations

import logging
from collections.abc import MutableSequence

from shared.contracts import Entity, StepEvent
from shared.memory import Fact, MemoryStore, MemoryUnavailable

log = logging.getLogger(__name__)

REMEMBERED_KINDS = ("invoice_id", "order_id")
FACT_PREFIX = "entity."
PREFERENCE_PREFIX = "preference."
_ANONYMOUS = frozenset({"", "anonymous"})


class EntityMemory:
    """Example: `await EntityMemory(memory).remember_and_recall(event)` after extraction."""

    def __init__(self, memory: MemoryStore) -> None:
        self._memory = memory

    async def remember_and_recall(self, event: StepEvent) -> None:
        """Keep the ids and preferences `event` states; add the remembered ones it does not.

        A memory store that is down costs the recall, not the request: it is logged."""
        envelope = event.envelope
        tenant, user = envelope.tenant_id, envelope.principal.user_id
        if user in _ANONYMOUS:
            return
        intent = event.intent
        named = {e.kind: e.value for e in intent.entities if e.kind in REMEMBERED_KINDS}
        stated = {p.kind: p.value for p in intent.preferences}
        stating = {FACT_PREFIX + k: v for k, v in named.items()} | {
            PREFERENCE_PREFIX + k: v for k, v in stated.items()
        }
        try:
            for key, value in stating.items():
                await self._memory.upsert_fact(
                    tenant, user, key, value, request_id=envelope.request_id
                )
            facts = await self._memory.facts(tenant, user)
        except MemoryUnavailable as exc:
            log.warning("memory unavailable, nothing remembered or recalled: %s", exc)
            return
        _recall(facts, FACT_PREFIX, named, intent.entities, kinds=REMEMBERED_KINDS)
        _recall(facts, PREFERENCE_PREFIX, stated, intent.preferences)

    async def close(self) -> None:
        await self._memory.close()


def _recall(
    facts: list[Fact],
    prefix: str,
    stated: dict[str, str],
    into: MutableSequence[Entity],
    kinds: tuple[str, ...] | None = None,
) -> None:
    """Append the facts under `prefix` whose kind this request did not state itself."""
    for fact in facts:
        if not fact.key.startswith(prefix):
            continue
        kind = fact.key.removeprefix(prefix)
        if kind not in stated and (kinds is None or kind in kinds):
            into.append(Entity(kind=kind, value=fact.value, remembered=True))
