"""Output checks that hold an answer to this request's facts, for any model and any text:

- `grounded`: every date, time, amount, duration, id and status the answer states is a
  value of a tool result (a field the tool declares stateable) or of a retrieved chunk;
- `claims_match_actions`: an answer says an action happened (a refund, a ticket) only
  when a side-effect call of that action completed in this request, in any wording;
- `complete`: not cut by the token limit, not ending mid-sentence, no unfilled `{slot}`.

Findings name the kind of fact and where it should have come from, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.guardrail.output_checks import Check
from shared.agent import placeholders
from shared.contracts import StepEvent
from shared.grounding import ActionVocabulary, Evidence, ungrounded, unbacked_claims
from shared.tools import ToolCatalog

_SENTENCE_ENDS = (".", "!", "?", ")", '"', "'", "…")


def complete(event: StepEvent) -> str | None:
    output = event.model_output
    if output.finish_reason == "length":
        return "the answer was cut off at the token limit"
    text = output.text.strip()
    unfilled = placeholders(text)
    if unfilled:
        return f"the answer refers to slots that this request has no value for: {unfilled}"
    if text and not text.endswith(_SENTENCE_ENDS):
        return "the answer ends mid-sentence"
    return None


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

    def checks(self) -> Mapping[str, Check]:
        return {
            "grounded": self.grounded,
            "claims_match_actions": self.claims_match_actions,
            "complete": complete,
        }

    def grounded(self, event: StepEvent) -> str | None:
        evidence = Evidence.from_request(
            event.tool_exchanges, event.retrieval.chunks, stateable=self._stateable
        )
        findings = ungrounded(event.model_output.text, evidence)
        return "; ".join(finding.describe() for finding in findings) or None

    def claims_match_actions(self, event: StepEvent) -> str | None:
        completed = {
            self._action_of_tool[x.call.tool]
            for x in event.tool_exchanges
            if x.ok and x.call.tool in self._action_of_tool
        }
        findings = unbacked_claims(event.model_output.text, self._actions, completed)
        return "; ".join(finding.describe() for finding in findings) or None
