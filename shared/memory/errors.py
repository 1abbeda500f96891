"""How a memory store fails: down (transient, typed) or a lost optimistic-version race."""

from __future__ import annotations

from shared.runtime.errors import DependencyUnavailable


class MemoryUnavailable(DependencyUnavailable):
    """The store (`"sqlite"`, `"postgres"`, `"redis"`) is down, refused or did not answer in time.

    A `DependencyUnavailable`: a step that meets it is retried with backoff and, when the
    attempts run out, ends the request with `DEPENDENCY_UNAVAILABLE` instead of waiting.
    """

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"memory store {store!r} unavailable: {reason}")
        self.store = store
        self.reason = reason


class TaskStateConflict(Exception):
    """Another worker wrote the task state since this one read it: re-read, then retry."""

    def __init__(self, tenant_id: str, key: str, *, expected: int, actual: int) -> None:
        super().__init__(
            f"task state {key!r} of tenant {tenant_id!r} is at version {actual}, not {expected}"
        )
        self.tenant_id = tenant_id
        self.key = key
        self.expected = expected
        self.actual = actual
