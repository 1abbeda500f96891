"""`make demo`: three conversations through all six services in one process, on the real
local model, with nothing to start and no keys."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from conduit.embedded import EmbeddedConduit
from conduit.report import render_response
from conduit.waterfall import render, request_spans, spans_from_file
from shared.config import ConduitSettings


@dataclass(frozen=True)
class Conversation:
    """One sample conversation; the benchmarks replay the same ones."""

    title: str
    workflow: str
    text: str


CONVERSATIONS = (
    Conversation("Refund", "refund", "I was charged twice for invoice INV-1001, please refund me"),
    Conversation(
        "Order status", "order_status", "Hi, where is my order ORD-5001? It has been a week."
    ),
    Conversation(
        "Product question", "product_question", "How long is the warranty and what does it cover?"
    ),
)


async def run_demo(settings: ConduitSettings) -> None:
    started = time.perf_counter()
    async with EmbeddedConduit(settings) as conduit:
        ready = time.perf_counter()
        count = await conduit.load_knowledge(settings.config_dir / "knowledge")
        print(
            f"started six services in {ready - started:.1f} s; "
            f"indexed {count} documents through the document-ingest topic"
        )
        for number, conversation in enumerate(CONVERSATIONS, start=1):
            print(f"\n=== {number}. {conversation.title} ===\ncustomer: {conversation.text}")
            response = await conduit.client.ask(conversation.text, session_id=f"demo-{number}")
            print(render_response(response))
            if conduit.tracing is not None:
                await asyncio.sleep(0.1)  # the last step's span closes after it answered
                conduit.tracing.force_flush()
                spans = spans_from_file(settings.data_dir / "traces.jsonl")
                request_id = response.envelope.request_id
                print("\ntrace (`conduit trace <request-id>`):")
                print(render(request_spans(spans, request_id), request_id))
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="conduit-demo-") as data_dir:
        asyncio.run(run_demo(ConduitSettings(data_dir=Path(data_dir), traces="file")))
