"""Resolving the catalog's `handler` names against the tool-executor's own modules only."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from services.tool_executor.business import JsonObject, billing, orders
from shared.config import ConfigFileError
from shared.tools import ToolCatalog, ToolSpec

Handler = Callable[..., JsonObject]

# The only modules a `handler: module.function` may name; a function must be in `__all__`.
HANDLER_MODULES: Mapping[str, ModuleType] = {"billing": billing, "orders": orders}


def resolve_handlers(catalog: ToolCatalog, source: Path) -> dict[str, Handler]:
    """Each `python` tool's handler; `ConfigFileError` naming `source` when one is not allowed."""
    return {
        name: _resolve(spec, source)
        for name, spec in catalog.tools.items()
        if spec.kind == "python"
    }


def _resolve(spec: ToolSpec, source: Path) -> Handler:
    module_name, function_name = str(spec.handler).split(".")
    module = HANDLER_MODULES.get(module_name)
    if module is None or function_name not in module.__all__:
        allowed = ", ".join(
            f"{name}.{function}"
            for name, mod in HANDLER_MODULES.items()
            for function in mod.__all__
        )
        raise ConfigFileError(
            f"{source}: tools.{spec.name}.handler: {spec.handler!r} is not a tool-executor "
            f"handler; allowed: {allowed}"
        )
    handler: Handler = getattr(module, function_name)
    placeholders: dict[str, Any] = dict.fromkeys(spec.arguments)
    try:
        inspect.signature(handler).bind(None, **placeholders)
    except TypeError as exc:
        raise ConfigFileError(
            f"{source}: tools.{spec.name}.arguments: {spec.handler} does not take "
            f"{sorted(spec.arguments)}: {exc}"
        ) from exc
    return handler
