"""Output checks that hold an answer to this request's facts, for any model and any text:

- `grounded`: every date, time, amount, duration, id and status the answer states is a
  value of a tool result (a field the tool declares stateable) or of a retrieved chunk,
  and no date is put in a tense its day contradicts ("shipped on" a day still to come);
- `claims_match_actions`: an answer says an action happened (a refund, a ticket) only
  when a side-effect call of that action completed in this request, in any wording;
- `complete`: not cut by the token limit, not ending mid-sentence, no unfilled `{slot}`,
  no value of the request stated twice;
- `states_what_was_asked`: the values the template says an answer must state are in it.

Findings name the kind of fact and where it should have come from, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime

from services.guardrail.output_checks import CHECKS, Check
from services.guardrail.refund_policy import REFUND_TOOL, RefundWithinPolicy
from services.guardrail.source_support import SourceSupport
from shared.agent import placeholders
from shared.contracts import StepEvent
from shared.embeddings import Embedder
from shared.grounding import (
    ActionVocabulary,
    Evidence,
    Fact,
    Kind,
    find_mentions,
    is_grounded,
    misdated,
    unbacked_claims,
    ungrounded,
)
from shared.grounding.statuses import STATUSES, canonical_status, find_statuses
from shared.text.sentences import sentences
from shared.tools import ToolCatalog

# The kinds of fact that answer a question about a policy (how long, how much, when).
_ANSWER_FACTS: frozenset[Kind] = frozenset({"date", "time", "amount", "duration"})
# A sentence whose last word is an article, a preposition or a conjunction lost its end
# ("should arrive on December 9, 2026 at ."): a closed class of words, not phrases.
_DANGLING = re.compile(
    r"\b(?:a|an|the|at|on|in|of|to|for|with|by|from|and|or|but|via)\s*[.!?]",
    re.IGNORECASE,
)
# A model kept from writing digits of its own may leave the number out: "a limit of  USD".
_VALUE_LEFT_OUT = re.compile(r"\S  +\S|(?<![\d.,])\s+(?:USD|EUR|GBP)\b")
# Redaction placeholders are upper case ([EMAIL#3f9a...]); a lower-case one is the model's.
_MADE_UP_PLACEHOLDER = re.compile(r"\[[a-z][a-z_ ]*\]")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
# A retrieved sentence this long, found word for word in an answer, is a quote of it.
_SHORTEST_QUOTE = 20
# Shorter values (USD, UPS) are words an answer may well use twice.
_SHORTEST_VALUE = 4
# A whole answer ends a sentence: a full stop, "!" or "?", then perhaps closing quotes or
# brackets ("(tracking 1Z9)." does; "(tracking 1Z9)" and a trailing "..." do not).
_SENTENCE_END = re.compile(r"(?<!\.\.)[.!?][\"')\]]*$")


def complete(event: StepEvent) -> str | None:
    output = event.model_output
    if output.finish_reason == "length":
        return "the answer was cut off at the token limit"
    text = output.text.strip()
    unfilled = placeholders(text)
    if unfilled:
        return f"the answer refers to slots that this request has no value for: {unfilled}"
    if _states_a_value_twice(text, event.prompt.answer_slots.values()):
        return "the answer states the same value twice: each value belongs in one place"
    return next((finding for finding, broken in _BROKEN_TEXT if broken(text)), None)


def _states_a_value_twice(text: str, values: Iterable[str]) -> bool:
    """Whether a value of this request (a slot's) stands twice in `text`: a short answer
    that does has put it where another belongs ("delivered to processing on processing").
    Amounts may well repeat ("charged 49.99 USD twice; I refunded 49.99 USD"): only values
    with a letter count."""
    worded = {v.strip().casefold() for v in values if any(c.isalpha() for c in v)}
    for value in {v for v in worded if len(v) >= _SHORTEST_VALUE}:
        whole = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
        if len(re.findall(whole, text.casefold())) > 1:
            return True
    return False


def _repeats_a_sentence(text: str) -> bool:
    said = [" ".join(s.lower().split()) for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    return len(said) != len(set(said))


# Text that no whole answer has, each with its finding.
_BROKEN_TEXT: tuple[tuple[str, Callable[[str], bool]], ...] = (
    (
        "the answer ends mid-sentence",
        lambda text: (
            bool(text) and (not _SENTENCE_END.search(text) or bool(_DANGLING.search(text)))
        ),
    ),
    (
        "a value is missing from the answer (a currency or a gap where a number was)",
        lambda text: bool(_VALUE_LEFT_OUT.search(text)),
    ),
    (
        "the answer holds a placeholder of its own making ([like_this])",
        lambda text: bool(_MADE_UP_PLACEHOLDER.search(text)),
    ),
    ("the answer repeats itself", _repeats_a_sentence),
)


def states_what_was_asked(event: StepEvent) -> str | None:
    """The answer states each value its template says it must (`answer.must_state`), and,
    where retrieval picked the passage that answers the question and it states a fact, a
    fact of it or of the second passage. A passage without a fact asks for none when it is
    the best ("Is the label free?"), and cannot vouch for an answer when it is the second."""
    slots, text = event.prompt.answer_slots, event.model_output.text
    missing = [name for name in event.prompt.must_state if not _states_value(text, slots[name])]
    retrieval = event.retrieval
    best = _answer_facts(retrieval.answer_passage)
    second = _answer_facts(retrieval.second_passage)
    if best and not any(_states_one_of(text, facts) for facts in (best, second) if facts):
        missing.append(f"what {retrieval.answer_source} says in answer to the question")
    return f"the answer does not state {', '.join(missing)}" if missing else None


def _states_value(text: str, value: str) -> bool:
    """`text` states `value`: a status only where a clause asserts it ("it has shipped",
    not "it is ready to be shipped"), any other value wherever it is written."""
    status = canonical_status(value)
    if status in STATUSES:
        return status in {mention.value for mention in find_statuses(text)}
    return value.casefold() in text.casefold()


def _answer_facts(passage: str) -> tuple[Fact, ...]:
    return tuple(
        Fact(m.kind, m.value, "the answer passage", m.currency)
        for m in find_mentions(passage, kinds=_ANSWER_FACTS)
    )


def _states_one_of(text: str, facts: tuple[Fact, ...]) -> bool:
    evidence = Evidence(facts)
    return any(is_grounded(m, evidence) for m in find_mentions(text, kinds=_ANSWER_FACTS))


class GroundingChecks:
    """The checks that need the tool catalog: which result fields are stateable, and how
    each side-effect tool's action is worded. Example:
    `GroundingChecks(load_tool_catalog(config_dir)).checks()["grounded"](event)`."""

    def __init__(self, catalog: ToolCatalog) -> None:
        self._stateable = {
            tool: facts for tool, facts in catalog.stateable_facts().items() if facts is not None
        }
        claims = catalog.action_claims()
        self._action_of_tool = {tool: claim.action for tool, claim in claims.items()}
        self._actions = {
            claim.action: ActionVocabulary(lemmas=frozenset(claim.words))
            for claim in claims.values()
        }
        refund = claims.get(REFUND_TOOL)
        self._refund_words = ActionVocabulary(frozenset(refund.words if refund else ()))

    def checks(self) -> Mapping[str, Check]:
        return {
            "grounded": self.grounded,
            "claims_match_actions": self.claims_match_actions,
            "complete": complete,
            "states_what_was_asked": states_what_was_asked,
            "refund_within_policy": RefundWithinPolicy(self._refund_words),
        }

    def grounded(self, event: StepEvent) -> str | None:
        evidence = Evidence.from_request(
            event.tool_exchanges, event.retrieval.chunks, stateable=self._stateable
        )
        text = _unquoted(event)
        findings = [*ungrounded(text, evidence), *misdated(text, _request_day(event))]
        return "; ".join(finding.describe() for finding in findings) or None

    def claims_match_actions(self, event: StepEvent) -> str | None:
        completed = {
            self._action_of_tool[x.call.tool]
            for x in event.tool_exchanges
            if x.ok and x.call.tool in self._action_of_tool
        }
        findings = unbacked_claims(_unquoted(event), self._actions, completed)
        return "; ".join(finding.describe() for finding in findings) or None


def _unquoted(event: StepEvent) -> str:
    """The answer with the retrieved sentences it quotes word for word blanked out: a quoted
    policy ("the cost of the label is deducted from your refund") is the source's general
    statement, not a status or an action of this request. Offsets stay as they were."""
    text = event.model_output.text
    for chunk in event.retrieval.chunks:
        for sentence in sentences(chunk.text):
            if len(sentence) >= _SHORTEST_QUOTE and sentence in text:
                text = text.replace(sentence, " " * len(sentence))
    return text


def _request_day(event: StepEvent) -> date:
    """The day (UTC) the request was made, which "tomorrow" and tenses are read from."""
    created_ms = event.envelope.created_unix_ms
    moment = datetime.fromtimestamp(created_ms / 1000, UTC) if created_ms else datetime.now(UTC)
    return moment.date()


def output_checks(catalog: ToolCatalog, embedder: Embedder) -> dict[str, Check]:
    """Every output check by name: the plain ones, those of the tool catalog, and the one
    that needs the embedding model (loaded on its first use)."""
    return {
        **CHECKS,
        **GroundingChecks(catalog).checks(),
        "supported_by_sources": SourceSupport(embedder).check,
    }
