"""The service runtime: step contract, typed errors, hosting one or all services."""

from shared.runtime.errors import (
    BudgetExhausted,
    DeadlineExceeded,
    InputRejected,
    InputTooLarge,
    InvalidArguments,
    ModelOutputInvalid,
    StepError,
    StepMisconfigured,
    ToolNotAllowed,
    UnknownTool,
)
from shared.runtime.host import ServiceFactory, ServiceHost, make_bus, run_service
from shared.runtime.service import RawConsumer, StepCall, StepHandler, StepService

__all__ = [
    "BudgetExhausted",
    "DeadlineExceeded",
    "InputRejected",
    "InputTooLarge",
    "InvalidArguments",
    "ModelOutputInvalid",
    "RawConsumer",
    "ServiceFactory",
    "ServiceHost",
    "StepCall",
    "StepError",
    "StepHandler",
    "StepMisconfigured",
    "StepService",
    "ToolNotAllowed",
    "UnknownTool",
    "make_bus",
    "run_service",
]
