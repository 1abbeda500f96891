"""What the gateway refuses before a request reaches the bus, and how each transport says so.

Each error knows its HTTP status and gRPC status code name, so the HTTP and gRPC layers
translate it the same way.
"""

from __future__ import annotations

import math


class GatewayError(Exception):
    """Refused at the gateway. Example: `raise BadRequest("text is empty")`."""

    status = 500
    grpc_code = "INTERNAL"
    code = "internal"


class BadRequest(GatewayError):
    status = 400
    grpc_code = "INVALID_ARGUMENT"
    code = "bad_request"


class TooLarge(GatewayError):
    status = 413
    grpc_code = "INVALID_ARGUMENT"
    code = "too_large"


class Unauthenticated(GatewayError):
    status = 401
    grpc_code = "UNAUTHENTICATED"
    code = "unauthenticated"


class Forbidden(GatewayError):
    status = 403
    grpc_code = "PERMISSION_DENIED"
    code = "forbidden"


class NotReady(GatewayError):
    status = 503
    grpc_code = "UNAVAILABLE"
    code = "not_ready"


class RateLimited(GatewayError):
    """Over a rate or concurrency limit; `retry_after_s` says when to try again."""

    status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up and at least 1, as `Retry-After` wants them."""
        return str(max(1, math.ceil(self.retry_after_s)))
