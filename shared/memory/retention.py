"""How long each tenant's memory is kept: `config/memory.yaml`, validated on load.

Retention slides: a conversation, a user's facts or a task's state is kept for its period
after its last write, then expires as a whole (Redis by native TTL, SQL stores by an
expiry column that reads respect and `prune_expired()` sweeps).

    default: {history: 30d, facts: 365d, task_state: 7d}
    tenants:
      acme: {history: 7d}
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from shared.config import load_yaml_model

Area = Literal["history", "facts", "task_state"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"expected a duration like '30d', '12h', '15m', '10s' or '500ms', not {value!r}"
            )
        seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds < 0.001:
        raise ValueError(f"a retention period must be at least 1ms, not {value!r}")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


class RetentionPeriods(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    history: Duration
    facts: Duration
    task_state: Duration

    def ttl_ms(self, area: Area) -> int:
        period: timedelta = getattr(self, area)
        return max(1, round(period.total_seconds() * 1000))


class RetentionOverrides(BaseModel):
    """A tenant's own periods; an area left out keeps the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history: Duration | None = None
    facts: Duration | None = None
    task_state: Duration | None = None


class MemoryRetention(BaseModel):
    """Example: `MemoryRetention.model_validate({"default": {...}}).for_tenant("acme")`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: RetentionPeriods
    tenants: dict[str, RetentionOverrides] = {}

    def for_tenant(self, tenant_id: str) -> RetentionPeriods:
        overrides = self.tenants.get(tenant_id)
        if overrides is None:
            return self.default
        return self.default.model_copy(update=overrides.model_dump(exclude_none=True))

    @classmethod
    def uniform(cls, period: timedelta) -> MemoryRetention:
        """The same period for every area and tenant (tests, benchmarks)."""
        return cls(default=RetentionPeriods(history=period, facts=period, task_state=period))


def load_retention(path: Path) -> MemoryRetention:
    """`ConfigFileError` naming the file and field when it is missing or invalid."""
    return load_yaml_model(path, MemoryRetention)
