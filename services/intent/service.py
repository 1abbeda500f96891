"""The intent step: classify `event.request.text` and extract its entities and stated
preferences into `event.intent`."""

from __future__ import annotations

import asyncio

from opentelemetry import trace

from services.intent.catalog import load_intent_catalog
from services.intent.classifier import IntentClassifier
from services.intent.entities import extract_entities
from services.intent.preferences import PreferenceCatalog, load_preferences
from services.intent.priority import PriorityReader
from services.intent.remembered import EntityMemory
from shared.config import ConduitSettings
from shared.contracts import Entity, IntentResult, IntentScore, StepEvent
from shared.embeddings import default_query_embedder
from shared.memory import open_memory
from shared.runtime import StepCall, StepService


class IntentStep:
    """Step handler; a result the classifier is unsure of, or an out-of-scope one, is marked
    `fallback` with the reason (the workflow hands it to a person), and every request gets a
    priority from its sentiment and urgency.

    >>> step = IntentStep(classifier, priority)  # doctest: +SKIP
    >>> await step(event, call); event.intent.intent  # doctest: +SKIP
    'refund'
    """

    def __init__(
        self,
        classifier: IntentClassifier,
        priority: PriorityReader,
        memory: EntityMemory | None = None,
        preferences: PreferenceCatalog | None = None,
    ) -> None:
        self._classifier = classifier
        self._priority = priority
        self._memory = memory
        self._preferences = preferences or PreferenceCatalog()

    async def __call__(self, event: StepEvent, call: StepCall) -> None:
        text = event.request.text
        [result] = await asyncio.to_thread(self._classifier.classify, [text])
        priority = self._priority.read(text)
        event.intent.CopyFrom(
            IntentResult(
                intent=result.intent,
                confidence=result.confidence,
                fallback=result.fallback,
                unsure=result.unsure,
                reason=result.reason,
                sentiment=priority.sentiment,
                urgency=priority.urgency,
                priority=priority.level,
                scores=[IntentScore(intent=name, score=score) for name, score in result.scores],
                entities=extract_entities(text),
                preferences=[
                    Entity(kind=key, value=value)
                    for key, value in self._preferences.recognise(text).items()
                ],
            )
        )
        span = trace.get_current_span()
        span.set_attribute("conduit.intent.sentiment", priority.sentiment)
        span.set_attribute("conduit.intent.urgency", priority.urgency)
        span.set_attribute("conduit.intent.priority", priority.level)
        if self._memory is not None:
            await self._memory.remember_and_recall(event)


def build(settings: ConduitSettings) -> StepService:
    catalog = load_intent_catalog(settings.config_dir / "intents.yaml")
    classifier = IntentClassifier(
        catalog, default_query_embedder(), vectors_dir=settings.data_dir / "vectors"
    )
    memory = EntityMemory(open_memory(settings))
    priority = PriorityReader(catalog.priority)
    return StepService(
        name="intent",
        handle=IntentStep(classifier, priority, memory, load_preferences(settings.config_dir)),
        warm_up=classifier.warm_up,
        close=memory.close,
    )
