"""The tool catalog and the gating rules shared by the prompt-builder and the tool-executor."""

from shared.tools.catalog import (
    TOOLS_FILE,
    ActionClaim,
    ArgumentSpec,
    Requirement,
    ResultField,
    ToolCatalog,
    ToolSpec,
    ValuesFrom,
)
from shared.tools.gating import (
    OfferedTool,
    bound_values,
    call_arguments,
    call_result,
    offerable_tools,
    requirement_failures,
    source_values,
    successful,
    unbound_arguments,
)
from shared.tools.loading import load_tool_catalog

__all__ = [
    "TOOLS_FILE",
    "ActionClaim",
    "ArgumentSpec",
    "OfferedTool",
    "Requirement",
    "ResultField",
    "ToolCatalog",
    "ToolSpec",
    "ValuesFrom",
    "bound_values",
    "call_arguments",
    "call_result",
    "load_tool_catalog",
    "offerable_tools",
    "requirement_failures",
    "source_values",
    "successful",
    "unbound_arguments",
]
