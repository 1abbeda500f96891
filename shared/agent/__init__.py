"""The agent's output format, shared by the prompt-builder and the inference service."""

from shared.agent.output import (
    ANSWER,
    CALL_TOOL,
    DELEGATE,
    TOOL_RESULT_PREFIX,
    AgentOutput,
    MalformedOutput,
    ParsedToolCall,
    answer_option,
    delegate_option,
    output_schema,
    parse_output,
    tool_call_option,
)

__all__ = [
    "ANSWER",
    "CALL_TOOL",
    "DELEGATE",
    "TOOL_RESULT_PREFIX",
    "AgentOutput",
    "MalformedOutput",
    "ParsedToolCall",
    "answer_option",
    "delegate_option",
    "output_schema",
    "parse_output",
    "tool_call_option",
]
