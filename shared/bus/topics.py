"""Topic names, derived from one prefix so deployments can share a cluster."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """Example: `Topics("conduit").step("intent") == "conduit.step.intent"`."""

    prefix: str = "conduit"

    @property
    def ingest(self) -> str:
        return f"{self.prefix}.ingest.requests"

    @property
    def responses(self) -> str:
        return f"{self.prefix}.responses"

    @property
    def handoff(self) -> str:
        return f"{self.prefix}.handoff"

    @property
    def documents(self) -> str:
        return f"{self.prefix}.documents.ingest"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    def step(self, service: str) -> str:
        return f"{self.prefix}.step.{service}"

    def all_for(self, services: list[str]) -> list[str]:
        fixed = [self.ingest, self.responses, self.handoff, self.documents, self.deadletter]
        return fixed + [self.step(s) for s in services]
