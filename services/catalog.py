"""The one list of services, and where each one's `build` lives.

Names come from the workflow vocabulary (`shared.workflow.model.SERVICE_NAMES`); the
module of service `tool-executor` is `services.tool_executor`. The gateway and the
approvals desk are processes of their own but no step services: no workflow step names them.
"""

from __future__ import annotations

import importlib

from shared.runtime import ServiceFactory
from shared.workflow.model import SERVICE_NAMES

__all__ = ["APPROVALS", "GATEWAY", "PROCESS_NAMES", "SERVICE_NAMES", "factory", "module_for"]

GATEWAY = "gateway"
APPROVALS = "approvals"
# What `conduit.stack.ServiceProcesses` can start: the step services, the gateway and the
# approvals desk.
PROCESS_NAMES: tuple[str, ...] = (*SERVICE_NAMES, GATEWAY, APPROVALS)


def module_for(name: str) -> str:
    if name not in PROCESS_NAMES:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(PROCESS_NAMES)}")
    return f"services.{name.replace('-', '_')}"


def factory(name: str) -> ServiceFactory:
    if name not in SERVICE_NAMES:
        raise KeyError(f"{name!r} is no step service; step services: {', '.join(SERVICE_NAMES)}")
    build: ServiceFactory = importlib.import_module(f"{module_for(name)}.service").build
    return build
