"""Fitting a session's history into a prompt budget (shared.memory.pruning): keep the newest
turns, fold the older ones into the stored summary, and reuse that summary next time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shared.memory import SessionSummary, StoredTurn, prune_to_budget
from shared.memory.pruning import TURN_OVERHEAD_TOKENS


class SummaryRecorder:
    """Stands in for a store: remembers the summaries it was given."""

    def __init__(self) -> None:
        self.stored: list[tuple[str, str, SessionSummary]] = []

    async def put_summary(self, tenant_id: str, session_id: str, summary: SessionSummary) -> None:
        self.stored.append((tenant_id, session_id, summary))


class Summariser:
    """Deterministic: the previous summary, then the dropped turns' contents."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int]]] = []

    async def __call__(self, previous: str, turns: Sequence[StoredTurn]) -> str:
        self.calls.append((previous, [turn.seq for turn in turns]))
        return " ".join([previous, *(turn.content for turn in turns)]).strip()


async def count_words(text: str) -> int:
    return len(text.split())


def session(count: int) -> list[StoredTurn]:
    """`count` turns of two words each ("turn N"), so each costs 2 + the overhead."""
    return [StoredTurn(n, "user", f"turn {n}", f"r{n}", n) for n in range(count)]


PER_TURN = 2 + TURN_OVERHEAD_TOKENS


async def test_a_history_within_budget_is_kept_whole_without_asking_the_model() -> None:
    sink, summarise = SummaryRecorder(), Summariser()

    pruned = await prune_to_budget(
        sink, "acme", "s1", session(3), None,
        budget_tokens=3 * PER_TURN, count_tokens=count_words, summarise=summarise,
    )  # fmt: skip

    assert [t.seq for t in pruned.turns] == [0, 1, 2], pruned
    assert (pruned.summary, pruned.summarised) == (None, False), pruned
    assert summarise.calls == [], "the model was asked for a summary nobody needed"


async def test_older_turns_that_do_not_fit_are_summarised_and_the_summary_stored() -> None:
    sink, summarise = SummaryRecorder(), Summariser()

    pruned = await prune_to_budget(
        sink, "acme", "s1", session(6), None,
        budget_tokens=3 * PER_TURN + 8, count_tokens=count_words, summarise=summarise,
    )  # fmt: skip

    assert [t.seq for t in pruned.turns] == [3, 4, 5], "the newest turns that fit should stay"
    assert summarise.calls[-1] == ("", [0, 1, 2]), summarise.calls
    assert pruned.summary == SessionSummary("turn 0 turn 1 turn 2", through_seq=2), pruned
    assert sink.stored == [("acme", "s1", pruned.summary)], "the new summary was not stored"


async def test_a_stored_summary_that_is_current_is_reused_without_asking_the_model() -> None:
    sink, summarise = SummaryRecorder(), Summariser()
    stored = SessionSummary("they talked about turns", through_seq=2)

    pruned = await prune_to_budget(
        sink, "acme", "s1", session(5), stored,
        budget_tokens=2 * PER_TURN + 4, count_tokens=count_words, summarise=summarise,
    )  # fmt: skip

    assert [t.seq for t in pruned.turns] == [3, 4], "turns the summary covers came back"
    assert pruned.summary == stored, pruned
    assert (summarise.calls, sink.stored) == ([], []), "a current summary was redone"


async def test_a_new_summary_folds_the_previous_one_with_the_newly_dropped_turns() -> None:
    sink, summarise = SummaryRecorder(), Summariser()
    stored = SessionSummary("earlier", through_seq=1)

    pruned = await prune_to_budget(
        sink, "acme", "s1", session(6), stored,
        budget_tokens=PER_TURN + 7, count_tokens=count_words, summarise=summarise,
    )  # fmt: skip

    assert summarise.calls[-1] == ("earlier", [2, 3, 4]), summarise.calls
    assert {previous for previous, _ in summarise.calls} == {"earlier"}, (
        "every attempt should fold into the stored summary, not into a discarded one"
    )
    assert len(sink.stored) == 1, f"only the summary that fits should be stored: {sink.stored}"
    assert [t.seq for t in pruned.turns] == [5], pruned
    assert pruned.summary is not None, pruned
    assert pruned.summary.through_seq == 4, pruned.summary


async def test_turns_are_dropped_until_they_fit_beside_a_longer_new_summary() -> None:
    sink = SummaryRecorder()

    async def verbose(previous: str, turns: Sequence[StoredTurn]) -> str:
        return "a summary of ten words that takes more room than planned"

    pruned = await prune_to_budget(
        sink, "acme", "s1", session(4), None,
        budget_tokens=2 * PER_TURN + 1, count_tokens=count_words, summarise=verbose,
    )  # fmt: skip

    assert pruned.turns == [], "turns were kept beside a summary that fills the budget"
    assert pruned.summary is not None, pruned
    assert pruned.summary.through_seq == 3, "the summary should cover every dropped turn"


async def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="budget_tokens"):
        await prune_to_budget(
            SummaryRecorder(), "acme", "s1", session(1), None,
            budget_tokens=-1, count_tokens=count_words, summarise=Summariser(),
        )  # fmt: skip
