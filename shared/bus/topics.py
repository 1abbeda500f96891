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
    def stream(self) -> str:
        """Answers as they are written, keyed by request id (`StreamChunk`)."""
        return f"{self.prefix}.responses.stream"

    @property
    def drafts(self) -> str:
        """Answers as the model writes them, unchecked, keyed by request id (`DraftChunk`):
        read by the output guardrail only, which releases what passed to `stream`."""
        return f"{self.prefix}.responses.drafts"

    @property
    def audit(self) -> str:
        """The append-only audit trail (`AuditRecord`), keyed by tenant."""
        return f"{self.prefix}.audit"

    @property
    def handoff(self) -> str:
        return f"{self.prefix}.handoff"

    @property
    def handoff_replies(self) -> str:
        """People's answers to handed-over requests (`HandoffTicket` with the answer)."""
        return f"{self.prefix}.handoff.replies"

    @property
    def approvals(self) -> str:
        """Requests parked until a person decides (`ParkedRequest`), keyed by session."""
        return f"{self.prefix}.approvals.requests"

    @property
    def approval_decisions(self) -> str:
        """People's decisions (`DecisionEvent`), keyed by approval id."""
        return f"{self.prefix}.approvals.decisions"

    @property
    def documents(self) -> str:
        return f"{self.prefix}.documents.ingest"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    def step(self, service: str) -> str:
        return f"{self.prefix}.step.{service}"

    def retry(self, service: str, attempt: int) -> str:
        return f"{self.prefix}.retry.{service}.{attempt}"

    def retries(self, service: str, attempts: int) -> list[str]:
        """The retry topics of a service allowed `attempts` attempts in all."""
        return [self.retry(service, n) for n in range(1, attempts)]

    def all_for(self, services: list[str], *, attempts: int = 1) -> list[str]:
        fixed = [
            self.ingest,
            self.responses,
            self.stream,
            self.drafts,
            self.audit,
            self.handoff,
            self.handoff_replies,
            self.approvals,
            self.approval_decisions,
            self.documents,
            self.deadletter,
        ]
        steps = [self.step(s) for s in services]
        return fixed + steps + [t for s in services for t in self.retries(s, attempts)]
