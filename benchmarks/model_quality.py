"""The answers customers read, with the real local model (SmolLM2-135M-Instruct Q4_1 via
llama.cpp): the evaluation set of tests/model/answers, judged strictly against the company's
data, with the figures per workflow and per outcome (model answer, regenerated, template,
person), and the model's CPU speed.

    python -m benchmarks.model_quality                      # every conversation, once
    python -m benchmarks.model_quality --per-workflow 5     # 5 of each (make test enforces three)
    python -m benchmarks.model_quality --runs 3 --workflow refund
    python -m benchmarks.model_quality --check              # exit 1 when a rule is broken
    python -m benchmarks.model_quality --target kafka       # six processes over Kafka

`--target embedded` (the default) runs each conversation through every service in this
process on a fresh data dir (tests/model/answers/runner.py); `--target kafka` through six
service processes against a real loopback broker, one stack for the whole run, the payments
reset between conversations (tests/model/answers/kafka_runner.py).

A conversation is correct when every fact it states is right, it claims no action that did
not happen, it is complete and gives what was asked, and its side effects (refund payments,
incident tickets) happened exactly as they should. The rules: 0 wrong, at least 95% answered
(the rest handed to a person). Writes bench/results/answers-<target>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from benchmarks.machine import machine, versions
from services.inference.backends import GenerationRequest
from services.inference.backends.llama_cpp import LlamaCppBackend
from services.inference.settings import InferenceSettings
from shared.config import repo_root
from shared.models.chat import ChatMessage
from tests.model.answers.dataset import WORKFLOWS, Conversation, load_conversations, select
from tests.model.answers.judge import Judgement
from tests.model.answers.kafka_runner import DEFAULT_STARTUP_TIMEOUT_S, KafkaConversationRunner
from tests.model.answers.report import record, render, summarise
from tests.model.answers.runner import ConversationRunner

RESULTS_DIR = repo_root() / "bench" / "results"
TARGETS = ("embedded", "kafka")


class Runner(Protocol):
    async def run(self, conversation: Conversation) -> Judgement: ...


def default_output(target: str) -> Path:
    return RESULTS_DIR / f"answers-{target}.json"


@asynccontextmanager
async def open_runner(
    target: str, *, timeout_s: float, startup_timeout_s: float
) -> AsyncIterator[Runner]:
    """The runner of `target`: embedded (a fresh pipeline per conversation) or kafka (one
    stack of six processes and a broker for the whole run, started here)."""
    ConversationRunner.require_real_model()
    if target == "kafka":
        print("starting the broker, the IT-ops API and six service processes...", flush=True)
        started = time.perf_counter()
        async with KafkaConversationRunner.started(
            timeout_s=timeout_s, startup_timeout_s=startup_timeout_s
        ) as kafka:
            print(f"stack up in {time.perf_counter() - started:.0f} s", flush=True)
            yield kafka
        return
    if target != "embedded":
        raise ValueError(f"target {target!r} is not one of {TARGETS}")
    embedded = ConversationRunner(timeout_s=timeout_s)
    try:
        yield embedded
    finally:
        embedded.close()


def measure_speed() -> dict[str, float]:
    """Prefill on a fresh prompt, then generation on the same (now cached) prompt."""
    settings = InferenceSettings()
    backend = LlamaCppBackend(n_threads=settings.n_threads)
    backend.warm_up()
    prompt = [
        ChatMessage(role="system", content="You are a helpful assistant."),
        ChatMessage(
            role="user",
            content="Explain in detail, step by step, how refunds of "
            "duplicate card charges work. " * 8,
        ),
    ]
    started = time.perf_counter()
    prefill = asyncio.run(backend.generate(GenerationRequest(messages=prompt, max_tokens=1)))
    prefill_s = time.perf_counter() - started
    started = time.perf_counter()
    generation = asyncio.run(backend.generate(GenerationRequest(messages=prompt, max_tokens=128)))
    generation_s = time.perf_counter() - started
    backend.close()
    return {
        "n_threads": settings.n_threads,
        "prompt_tokens": prefill.input_tokens,
        "prefill_tokens_per_s": round(prefill.input_tokens / prefill_s, 1),
        "output_tokens": generation.output_tokens,
        "generation_tokens_per_s": round(generation.output_tokens / generation_s, 1),
    }


async def judge_all(
    conversations: list[Conversation],
    *,
    runs: int,
    timeout_s: float,
    target: str = "embedded",
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
) -> list[tuple[int, Judgement]]:
    """Every conversation `runs` times, one at a time (sampling differs per request)."""
    judged = []
    total = len(conversations) * runs
    async with open_runner(
        target, timeout_s=timeout_s, startup_timeout_s=startup_timeout_s
    ) as runner:
        started = time.perf_counter()
        for run in range(1, runs + 1):
            for conversation in conversations:
                judgement = await runner.run(conversation)
                judged.append((run, judgement))
                print(
                    f"[{len(judged)}/{total} {time.perf_counter() - started:.0f} s] "
                    f"{conversation.id}: {judgement.verdict} ({judgement.outcome}, "
                    f"{judgement.seconds:.1f} s)",
                    flush=True,
                )
                for problem in judgement.problems:
                    print(f"    {problem}", flush=True)
    return judged


def _versions(*, kafka: bool) -> dict[str, object] | None:
    try:
        return versions(kafka=kafka)
    except (OSError, subprocess.SubprocessError):  # not a git checkout
        return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--per-workflow", type=int, default=None, help="the first N of each workflow (all)"
    )
    parser.add_argument("--workflow", action="append", choices=WORKFLOWS, help="repeatable")
    parser.add_argument("--runs", type=int, default=1, help="times each conversation runs")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per conversation")
    parser.add_argument("--no-speed", action="store_true", help="skip the CPU speed line")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the run breaks the suite's rules"
    )
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="embedded",
        help="embedded: every service in this process, a fresh data dir per conversation; "
        "kafka: six service processes over a loopback broker (default: embedded)",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=DEFAULT_STARTUP_TIMEOUT_S,
        help="seconds for the Kafka stack to start (--target kafka)",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="(bench/results/answers-<target>.json)"
    )
    options = parser.parse_args()

    conversations = select(load_conversations(), per_workflow=options.per_workflow)
    if options.workflow:
        conversations = [c for c in conversations if c.workflow in options.workflow]
    speed = None if options.no_speed else measure_speed()
    if speed is not None:
        print(
            "model speed (SmolLM2-135M-Instruct Q4_1, llama.cpp, CPU): "
            f"prefill {speed['prefill_tokens_per_s']:.0f} tok/s over {speed['prompt_tokens']} "
            f"tokens, generation {speed['generation_tokens_per_s']:.0f} tok/s over "
            f"{speed['output_tokens']} tokens, {speed['n_threads']} thread(s)",
            flush=True,
        )
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    judged = asyncio.run(
        judge_all(
            conversations,
            runs=options.runs,
            timeout_s=options.timeout,
            target=options.target,
            startup_timeout_s=options.startup_timeout,
        )
    )
    summary = summarise([judgement for _, judgement in judged])
    print("\n" + render(summary))
    inference = InferenceSettings()
    result: dict[str, Any] = {
        "benchmark": "answers",
        "mode": options.target,
        "target": options.target,
        "started_at": started_at,
        "command": "python -m benchmarks.model_quality"
        + (f" --target {options.target}" if options.target != "embedded" else "")
        + (f" --per-workflow {options.per_workflow}" if options.per_workflow else "")
        + "".join(f" --workflow {w}" for w in options.workflow or ())
        + (f" --runs {options.runs}" if options.runs != 1 else ""),
        "model": {
            "backend": inference.backend,
            "models_file": str(inference.models_file) if inference.models_file else None,
            "model_path": str(inference.model_path) if inference.model_path else None,
            "temperature": inference.temperature,
            "n_threads": inference.n_threads,
        },
        "speed": speed,
        "machine": machine(),
        "versions": _versions(kafka=options.target == "kafka"),
        "runs": options.runs,
        "summary": summary,
        "conversations": [{"run": run, **record(j)} for run, j in judged],
    }
    output: Path = options.output or default_output(options.target)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {output}")
    if options.check and summary["rules"]["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
