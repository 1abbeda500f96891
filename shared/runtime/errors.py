"""Typed failures a step can raise; each ends the request with an error event of its code."""

from __future__ import annotations

from shared.contracts import ErrorCode


class StepError(Exception):
    """A permanent, expected failure: retrying cannot help, the caller gets `code`."""

    code: ErrorCode = ErrorCode.ERROR_CODE_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputTooLarge(StepError):
    code = ErrorCode.ERROR_CODE_INPUT_TOO_LARGE


class InputRejected(StepError):
    code = ErrorCode.ERROR_CODE_INPUT_REJECTED


class UnknownTool(StepError):
    code = ErrorCode.ERROR_CODE_UNKNOWN_TOOL


class InvalidArguments(StepError):
    code = ErrorCode.ERROR_CODE_INVALID_ARGUMENTS


class ToolNotAllowed(StepError):
    code = ErrorCode.ERROR_CODE_TOOL_NOT_ALLOWED


class BudgetExhausted(StepError):
    code = ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED


class DeadlineExceeded(StepError):
    code = ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED


class ModelOutputInvalid(StepError):
    """The model's output does not follow the requested format."""

    code = ErrorCode.ERROR_CODE_MODEL_OUTPUT_INVALID


class StepMisconfigured(StepError):
    """A workflow step names parameters the service cannot use."""


class UnknownTenant(StepError):
    """The request's tenant has nothing here (no knowledge base, say)."""

    code = ErrorCode.ERROR_CODE_UNKNOWN_TENANT


class DependencyUnavailable(Exception):
    """A system the step needs (a vector store, a model server) is down or too slow.

    Transient, unlike a `StepError`: the runtime retries the step with backoff, and only
    when the attempts run out does the request end, with `DEPENDENCY_UNAVAILABLE`.
    """

    code = ErrorCode.ERROR_CODE_DEPENDENCY_UNAVAILABLE


class RecordRejected(ValueError):
    """A raw consumer cannot take this record, and never will: dead-letter it at once."""
