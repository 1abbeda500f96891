"""The one list of services, and where each one's `build` lives.

Names come from the workflow vocabulary (`shared.workflow.model.SERVICE_NAMES`); the
module of service `tool-executor` is `services.tool_executor`.
"""

from __future__ import annotations

import importlib

from shared.runtime import ServiceFactory
from shared.workflow.model import SERVICE_NAMES

__all__ = ["SERVICE_NAMES", "factory", "module_for"]


def module_for(name: str) -> str:
    if name not in SERVICE_NAMES:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}")
    return f"services.{name.replace('-', '_')}"


def factory(name: str) -> ServiceFactory:
    build: ServiceFactory = importlib.import_module(f"{module_for(name)}.service").build
    return build
