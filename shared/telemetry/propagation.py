"""W3C trace context across the bus, done once here for every transport.

Publishing injects the current context into the record's headers; delivering extracts it
and makes it current while the handler runs, so every hop of a request joins one trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import context, propagate

if TYPE_CHECKING:  # the bus imports this module: a runtime import would be circular
    from shared.bus.base import BusMessage, Handler


def with_trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    carrier = dict(headers)
    propagate.inject(carrier)
    return carrier


def in_trace_context(handler: Handler) -> Handler:
    async def run(message: BusMessage) -> None:
        token = context.attach(propagate.extract(message.headers))
        try:
            await handler(message)
        finally:
            context.detach(token)

    return run
