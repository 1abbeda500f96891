"""A deterministic scripted model for tests and benchmarks, NOT a language model.

It answers through the real backend interface so orchestration (routing, tools,
budgets, guardrails) can be tested and timed without model noise:
- offered tool calls (a `oneOf` schema): it takes the first tool option and the first
  allowed value of each argument (an enum's first value, or the first alternative of a
  pattern like `^(sev1|sev2)$`, which is how a foreign tool's string enum arrives);
- else, offered a handover to other agents: it hands the request to the first one;
- otherwise it answers, citing the first allowed source, with a sentence built from
  the most recent tool result in the chat.
It streams its text word by word (each piece is a word with the whitespace before it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from services.inference.backends.base import DeltaSink, Generation, GenerationRequest
from shared.agent import ANSWER, CALL_TOOL, DELEGATE, TOOL_RESULT_PREFIX
from shared.agent.slots import slots_of_pattern

SCRIPTED_MODEL = "scripted-deterministic"
_WORD_PIECE = re.compile(r"\s*\S+|\s+$")
_ALTERNATION = re.compile(r"\^\((?:\?:)?(?P<first>[^|()]*)(?:\|[^()]*)?\)\$")


class ScriptedBackend:
    """Example: `await ScriptedBackend().generate(request)` picks the first offered tool."""

    name = SCRIPTED_MODEL

    def warm_up(self) -> None:
        """Nothing to load."""

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        text = self._respond(request)
        if on_delta is not None:
            for piece in _WORD_PIECE.findall(text):
                await on_delta(piece)
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        return Generation(
            text=text,
            input_tokens=prompt_words,
            output_tokens=len(text.split()),
            finish_reason="stop",
            model=self.name,
        )

    def _respond(self, request: GenerationRequest) -> str:
        schema = request.json_schema
        if schema is None:
            return self._sentence(request)
        options = schema.get("oneOf", [schema])
        for option in options:
            properties = option.get("properties", {})
            if properties.get("action", {}).get("const") == CALL_TOOL:
                arguments = {
                    name: _first_value(spec)
                    for name, spec in properties["arguments"]["properties"].items()
                }
                tool = properties["tool"]["const"]
                return json.dumps({"action": CALL_TOOL, "tool": tool, "arguments": arguments})
        for option in options:
            properties = option.get("properties", {})
            if properties.get("action", {}).get("const") == DELEGATE:
                agent = properties["agent"]["enum"][0]
                return json.dumps({"action": DELEGATE, "agent": agent})
        answer_props = options[-1].get("properties", {})
        sources = answer_props.get("sources", {}).get("items", {}).get("enum", [])[:1]
        slots = slots_of_pattern(answer_props.get("text", {}).get("pattern"))
        text = self._slotted(slots) if slots is not None else self._sentence(request)
        return json.dumps({"action": ANSWER, "text": text, "sources": sources})

    @staticmethod
    def _slotted(slots: list[str]) -> str:
        """Every fact once, by its shortest slot, as the answer's pattern demands (no digit
        of its own): `status`, not `lookup_order.status` too."""
        shortest = [n for n in slots if not any(n.endswith(f".{other}") for other in slots)]
        if not shortest:
            return "Here is the information you asked for."
        return "Here is what I found: " + ", ".join(f"{{{name}}}" for name in shortest) + "."

    @staticmethod
    def _sentence(request: GenerationRequest) -> str:
        for message in reversed(request.messages):
            if message.content.startswith(TOOL_RESULT_PREFIX):
                return f"Done. {message.content}"[:399] + "."
        return "Here is the information you asked for, from our policies."


def _first_value(spec: Mapping[str, Any]) -> Any:
    if "enum" in spec:
        return spec["enum"][0]
    if "const" in spec:
        return spec["const"]
    first = _first_alternative(spec.get("pattern"))
    if first is not None:
        return first
    return {"number": 1, "integer": 1, "boolean": True}.get(spec.get("type", ""), "x")


def _first_alternative(pattern: Any) -> str | None:
    """The first literal of a pattern like `^(sev1|sev2)$` or `^(a[-]b|c)$`, if it matches
    the pattern."""
    found = _ALTERNATION.fullmatch(pattern) if isinstance(pattern, str) else None
    if found is None:
        return None
    literal = re.sub(r"\[\\?(.)\]|\\(.)", lambda m: m[1] or m[2], found["first"])
    return literal if re.fullmatch(pattern, literal) else None
