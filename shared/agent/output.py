"""The model's structured output: tool calls, a cited answer, or a handover to another
agent, as one JSON object.

The prompt-builder sends the schema (built here) with the prompt; the inference service
decodes under it and parses the result (also here), so both sides share one format:

    {"action": "call_tool", "tool": "lookup_invoice", "arguments": {"invoice_id": "INV-1001"}}
    {"action": "answer", "text": "Your refund ...", "sources": ["refund-policy#2"]}
    {"action": "delegate", "agent": "billing"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.agent.slots import slotted_text_pattern

CALL_TOOL = "call_tool"
ANSWER = "answer"
DELEGATE = "delegate"
# How a tool's result is shown to the model: "Result of <tool>: <JSON or error>".
TOOL_RESULT_PREFIX = "Result of "


class MalformedOutput(ValueError):
    """The model's text is not an object of the agreed shape."""


@dataclass(frozen=True, kw_only=True)
class ParsedToolCall:
    tool: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class AgentOutput:
    """Example: `parse_output('{"action":"answer","text":"Hi","sources":[]}').text == "Hi"`."""

    text: str = ""
    sources: Sequence[str] = ()
    tool_calls: Sequence[ParsedToolCall] = field(default_factory=tuple)
    delegate_to: str = ""


def tool_call_option(tool: str, arguments_schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "action": {"const": CALL_TOOL},
            "tool": {"const": tool},
            "arguments": dict(arguments_schema),
        },
        "required": ["action", "tool", "arguments"],
        "additionalProperties": False,
    }


def delegate_option(agents: Sequence[str]) -> dict[str, Any]:
    """Hand the request to one of `agents` (a supervisor's choice, or a handoff)."""
    return {
        "type": "object",
        "properties": {"action": {"const": DELEGATE}, "agent": {"enum": list(agents)}},
        "required": ["action", "agent"],
        "additionalProperties": False,
    }


def answer_option(
    sources: Sequence[str], *, max_chars: int = 400, slots: Collection[str] | None = None
) -> dict[str, Any]:
    """A cited answer; with retrieved sources at hand, at least one must be cited. With
    `slots`, the text states facts only as `{slot}` references (`shared.agent.slots`)."""
    text: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_chars}
    if slots is not None:
        text["pattern"] = slotted_text_pattern(slots)
    properties: dict[str, Any] = {"action": {"const": ANSWER}, "text": text}
    if sources:
        properties["sources"] = {
            "type": "array",
            "items": {"enum": list(sources)},
            "minItems": 1,
            "maxItems": len(sources),
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def output_schema(
    tool_options: Sequence[Mapping[str, Any]], answer: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One of the options; `answer=None` forces a tool call (at least one must be offered)."""
    options = [*tool_options, *([answer] if answer is not None else [])]
    if not options:
        raise ValueError("an output schema needs at least one option")
    return dict(options[0]) if len(options) == 1 else {"oneOf": options}


def parse_output(text: str) -> AgentOutput:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedOutput(f"model output is not JSON: {exc}: {text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise MalformedOutput(f"model output is not a JSON object: {text[:200]!r}")
    action = data.get("action")
    if action == CALL_TOOL:
        tool, arguments = data.get("tool"), data.get("arguments", {})
        if not isinstance(tool, str) or not isinstance(arguments, dict):
            raise MalformedOutput(f"tool call lacks a tool name or argument object: {data}")
        return AgentOutput(tool_calls=(ParsedToolCall(tool=tool, arguments=arguments),))
    if action == ANSWER:
        answer, sources = data.get("text"), data.get("sources", [])
        if not isinstance(answer, str) or not isinstance(sources, list):
            raise MalformedOutput(f"answer lacks text or a source list: {data}")
        return AgentOutput(text=answer, sources=tuple(str(s) for s in sources))
    if action == DELEGATE:
        agent = data.get("agent")
        if not isinstance(agent, str) or not agent:
            raise MalformedOutput(f"a delegation names no agent: {data}")
        return AgentOutput(delegate_to=agent)
    raise MalformedOutput(f"unknown action {action!r}")


def answer_max_chars(schema: Mapping[str, Any] | None) -> int | None:
    """The most characters an answer's text may have under `schema` (None: no limit)."""
    for option in (schema or {}).get("oneOf", [schema or {}]):
        properties = option.get("properties", {})
        if properties.get("action", {}).get("const") == ANSWER:
            limit = properties.get("text", {}).get("maxLength")
            return limit if isinstance(limit, int) else None
    return None


_SENTENCE_END = re.compile(r"[.!?…][)\"']?(?=\s|$)")


def whole_sentences(text: str) -> str:
    """`text` up to the end of its last whole sentence (all of it when none ends)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends else text
