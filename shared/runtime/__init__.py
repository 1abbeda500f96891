"""The service runtime: step contract, typed errors, hosting one or all services."""

from shared.runtime.audit import AuditLog
from shared.runtime.errors import (
    BudgetExhausted,
    DeadlineExceeded,
    DependencyUnavailable,
    InputRejected,
    InputTooLarge,
    InvalidArguments,
    ModelOutputInvalid,
    RecordRejected,
    StepError,
    StepMisconfigured,
    ToolNotAllowed,
    UnknownTenant,
    UnknownTool,
)
from shared.runtime.host import ServiceFactory, ServiceHost, make_bus, run_service
from shared.runtime.service import RawConsumer, StepCall, StepHandler, StepService

__all__ = [
    "AuditLog",
    "BudgetExhausted",
    "DeadlineExceeded",
    "DependencyUnavailable",
    "InputRejected",
    "InputTooLarge",
    "InvalidArguments",
    "ModelOutputInvalid",
    "RawConsumer",
    "RecordRejected",
    "ServiceFactory",
    "ServiceHost",
    "StepCall",
    "StepError",
    "StepHandler",
    "StepMisconfigured",
    "StepService",
    "ToolNotAllowed",
    "UnknownTenant",
    "UnknownTool",
    "make_bus",
    "run_service",
]
