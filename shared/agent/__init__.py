"""The agent's output format, shared by the prompt-builder and the inference service."""

from shared.agent.output import (
    ANSWER,
    CALL_TOOL,
    DELEGATE,
    TOOL_RESULT_PREFIX,
    AgentOutput,
    MalformedOutput,
    ParsedToolCall,
    answer_max_chars,
    answer_option,
    delegate_option,
    output_schema,
    parse_output,
    tool_call_option,
    whole_sentences,
)
from shared.agent.slots import (
    SlotRenderer,
    answer_slots,
    placeholders,
    render_slots,
    result_fields,
)

__all__ = [
    "ANSWER",
    "CALL_TOOL",
    "DELEGATE",
    "TOOL_RESULT_PREFIX",
    "AgentOutput",
    "MalformedOutput",
    "ParsedToolCall",
    "SlotRenderer",
    "answer_max_chars",
    "answer_option",
    "answer_slots",
    "delegate_option",
    "output_schema",
    "parse_output",
    "placeholders",
    "render_slots",
    "result_fields",
    "tool_call_option",
    "whole_sentences",
]
