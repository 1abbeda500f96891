"""Fitting a session's history into a prompt budget: keep the newest turns that fit, fold
the older ones into the session's summary, and store that summary for the next request.

The summary covers every turn up to its `through_seq`; turns after it are candidates to
keep verbatim. Only when some of those no longer fit is the model asked (through the
injected `summarise`) for a new summary of the previous one plus the dropped turns, so
a session whose summary is current costs no model call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.memory.records import SessionSummary, StoredTurn

TokenCounter = Callable[[str], Awaitable[int]]
Summariser = Callable[[str, Sequence[StoredTurn]], Awaitable[str]]
"""`summarise(previous_summary, turns)`: the new summary text ("" when there was none)."""

TURN_OVERHEAD_TOKENS = 4
"""What a turn costs beyond its content: role markers and separators of a chat template."""


class SummarySink(Protocol):
    async def put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary
    ) -> None: ...


@dataclass(frozen=True)
class PrunedHistory:
    """What goes into the prompt: the summary (of every older turn) and the kept turns."""

    summary: SessionSummary | None
    turns: list[StoredTurn]
    summarised: bool
    """Whether the model was asked for a new summary (which was then stored)."""


async def prune_to_budget(
    memory: SummarySink,
    tenant_id: str,
    session_id: str,
    turns: Sequence[StoredTurn],
    summary: SessionSummary | None,
    *,
    budget_tokens: int,
    count_tokens: TokenCounter,
    summarise: Summariser,
) -> PrunedHistory:
    """`turns` oldest first (as `MemoryStore.turns` returns them), `summary` the stored one.

    Example::

        pruned = await prune_to_budget(
            memory, "acme", "s1", await memory.turns("acme", "s1"),
            await memory.summary("acme", "s1"),
            budget_tokens=512, count_tokens=backend.count_tokens, summarise=backend.summarise,
        )

    A summary that alone is over the budget is still returned, with no turns.
    """
    if budget_tokens < 0:
        raise ValueError(f"budget_tokens must be 0 or more, not {budget_tokens}")
    covered = -1 if summary is None else summary.through_seq
    candidates = [turn for turn in turns if turn.seq > covered]
    costs = [await _turn_cost(turn, count_tokens) for turn in candidates]
    summary_cost = 0 if summary is None else await count_tokens(summary.text)
    keep_from = _first_that_fits(costs, budget_tokens - summary_cost)
    if keep_from == 0:
        return PrunedHistory(summary=summary, turns=candidates, summarised=False)
    previous = "" if summary is None else summary.text
    # A new summary may cost more than the old one: drop one more turn until both fit.
    while True:
        dropped, kept = candidates[:keep_from], candidates[keep_from:]
        folded = SessionSummary(
            text=await summarise(previous, dropped), through_seq=dropped[-1].seq
        )
        room = budget_tokens - await count_tokens(folded.text)
        if not kept or sum(costs[keep_from:]) <= room:
            break
        keep_from = max(keep_from + 1, _first_that_fits(costs, room))
    await memory.put_summary(tenant_id, session_id, folded)
    return PrunedHistory(summary=folded, turns=kept, summarised=True)


async def _turn_cost(turn: StoredTurn, count_tokens: TokenCounter) -> int:
    return await count_tokens(turn.content) + TURN_OVERHEAD_TOKENS


def _first_that_fits(costs: Sequence[int], room: int) -> int:
    """The index from which the newest turns fit in `room` (len(costs): none fit)."""
    used = 0
    for index in range(len(costs) - 1, -1, -1):
        used += costs[index]
        if used > room:
            return index + 1
    return 0
