"""Every service in one process over the in-memory bus, and the approvals desk: the same
handlers, contracts and routing as over Kafka, with nothing to install or start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from services.approvals.service import build as build_approvals_desk
from services.catalog import SERVICE_NAMES, factory
from services.retrieval.knowledge import document_events_from_dir
from shared.bus import MemoryBus, Topics
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.runtime import ServiceFactory, ServiceHost
from shared.telemetry import configure_tracing


class EmbeddedConduit:
    """Example:

    >>> async with EmbeddedConduit(ConduitSettings()) as conduit:  # doctest: +SKIP
    ...     await conduit.load_knowledge(Path("config/knowledge"))
    ...     response = await conduit.client.ask("Where is ORD-5001?", session_id="s1")
    """

    def __init__(
        self,
        settings: ConduitSettings,
        services: Sequence[str] = SERVICE_NAMES,
        *,
        replacements: Mapping[str, ServiceFactory] | None = None,
        approvals_desk: bool = True,
    ) -> None:
        """`replacements` builds the named services with other factories (a replay's
        tool-executor answering from recordings, say) instead of the catalog's. The
        approvals desk parks and resumes tool calls that need a person's approval."""
        builders = {name: factory(name) for name in services} | dict(replacements or {})
        self.settings = settings
        self.bus = MemoryBus(
            partitions=settings.kafka_partitions, redelivery_delay_s=settings.retry_backoff_s
        )
        self.topics = Topics(settings.topic_prefix)
        built = [build(settings) for build in builders.values()]
        if approvals_desk:
            built.append(build_approvals_desk(settings))
        self.host = ServiceHost(settings, self.bus, built)
        self.client = ConduitClient.from_settings(self.bus, settings)
        self.tracing = configure_tracing(settings, "conduit-embedded")

    async def __aenter__(self) -> EmbeddedConduit:
        await self.host.start()
        await self.client.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.client.close()
        await self.host.stop()
        if self.tracing is not None:
            self.tracing.shutdown()

    async def load_knowledge(self, directory: Path, tenant_id: str = "default") -> int:
        """Publish a folder of documents to the document-ingest topic and wait until indexed."""
        documents = document_events_from_dir(directory, tenant_id)
        for document in documents:
            await self.client.publish_document(document)
        await self.bus.idle()
        return len(documents)
