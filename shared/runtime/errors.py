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
