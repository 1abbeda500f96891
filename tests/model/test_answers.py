"""The answers a customer reads, with the real local model (issue 18): conversations of the
evaluation set (tests/model/answers/conversations.yaml) through the whole embedded pipeline,
each judged strictly against the company's data: every stated fact right, no false action
claim, a complete answer that addresses what was asked, the right side effects exactly once.

By default the first five conversations of each shipped workflow run (refund, order status,
product question, support desk, incident triage: `make test` runs them); with
CONDUIT_EVAL_ALL=1 every one (`make eval-answers` gives the figures).

Each conversation is its own test: it fails on a wrong answer, a wrong side effect or an
error, and passes when the answer is right or the request went cleanly to a person. The
aggregate test holds the run to the rules over the whole selection: 0 wrong and at least 95%
answered. Runs are memoised per conversation (`JudgedRuns`), so the aggregate reuses the
per-conversation runs, and run alone (`-k aggregate`) it runs the selection itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.model.answers.dataset import Conversation, selected
from tests.model.answers.report import render, rule_failures, summarise
from tests.model.answers.runner import ConversationRunner, JudgedRuns, RealModelRequired

pytestmark = [pytest.mark.model, pytest.mark.answers]

CONVERSATIONS = selected()
# A refund takes several model calls; on two shared CPUs a conversation can take a minute.
PER_CONVERSATION_S = 300


@pytest.fixture(scope="module")
def runs() -> Iterator[JudgedRuns]:
    try:
        ConversationRunner.require_real_model()
    except RealModelRequired as reason:
        pytest.fail(f"the answers suite needs the real model: {reason}", pytrace=False)
    runner = ConversationRunner()
    try:
        yield JudgedRuns(runner)
    finally:
        runner.close()


@pytest.mark.timeout(PER_CONVERSATION_S)
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.id)
async def test_answer(conversation: Conversation, runs: JudgedRuns) -> None:
    judgement = await runs.get(conversation)
    if judgement.verdict not in ("correct", "person"):
        pytest.fail(judgement.describe(), pytrace=False)


@pytest.mark.timeout(PER_CONVERSATION_S * len(CONVERSATIONS))
async def test_aggregate_no_wrong_answer_and_at_least_95_percent_answered(
    runs: JudgedRuns,
) -> None:
    judgements = [await runs.get(conversation) for conversation in CONVERSATIONS]
    if rule_failures(judgements):
        pytest.fail(render(summarise(judgements)), pytrace=False)
