"""Declarative workflows and the pure router every service asks for its next hop."""

from shared.workflow.model import Condition, Edge, Limits, Step, Workflow
from shared.workflow.registry import ENTRY_WORKFLOW, WorkflowRegistry
from shared.workflow.router import Continue, Finish, Route, Stop, advance, check_limits, locate

__all__ = [
    "ENTRY_WORKFLOW",
    "Condition",
    "Continue",
    "Edge",
    "Finish",
    "Limits",
    "Route",
    "Step",
    "Stop",
    "Workflow",
    "WorkflowRegistry",
    "advance",
    "check_limits",
    "locate",
]
