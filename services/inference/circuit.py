"""A circuit breaker per backend: after repeated failures, stop sending it requests for a
while, so fallbacks answer at once instead of each request waiting out a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    """Closed until `failure_threshold` failures in a row; then open for `reset_after_s`;
    then half-open: one trial request decides whether it closes or opens again.

    >>> breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30.0)
    >>> breaker.allows()
    True
    >>> breaker.failed(); breaker.failed(); breaker.allows()
    False
    """

    failure_threshold: int = 3
    reset_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = field(default=0, init=False)
    _opened_at: float | None = field(default=None, init=False)
    _trial_running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {self.failure_threshold}")
        if self.reset_after_s <= 0:
            raise ValueError(f"reset_after_s must be positive, got {self.reset_after_s}")

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at < self.reset_after_s:
            return "open"
        return "half-open"

    def allows(self) -> bool:
        """Whether a request may go through now; a half-open circuit lets one through."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()
