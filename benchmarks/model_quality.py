"""How often the real local model (SmolLM2-135M-Instruct Q4_1 via llama.cpp) completes each
demo conversation correctly, over repeated runs with different sampling seeds, plus its
CPU speed. `python -m benchmarks.model_quality --runs 20`.

Correct means: the right tools with the right arguments, and the right final outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conduit.demo import CONVERSATIONS
from conduit.embedded import EmbeddedConduit
from conduit.report import outcome_of
from services.inference.backends import GenerationRequest
from services.inference.backends.llama_cpp import LlamaCppBackend
from services.inference.settings import InferenceSettings
from shared.config import ConduitSettings
from shared.contracts import Response
from shared.models.chat import ChatMessage

Judge = Callable[[Response, Path], list[str]]


def _calls(response: Response) -> list[tuple[str, dict[str, object]]]:
    return [
        (x.call.tool, json.loads(x.call.arguments_json or "{}")) for x in response.tool_exchanges
    ]


def judge_refund(response: Response, data_dir: Path) -> list[str]:
    problems = []
    expected = [
        ("lookup_invoice", {"invoice_id": "INV-1001"}),
        ("check_refund_policy", {"invoice_id": "INV-1001"}),
        ("issue_refund", {"amount": 49.99, "invoice_id": "INV-1001"}),
    ]
    if _calls(response) != expected:
        problems.append(f"tools {_calls(response)}")
    with sqlite3.connect(data_dir / "tool-executor" / "business.sqlite3") as db:
        paid = db.execute("SELECT invoice_id, amount_cents FROM payments").fetchall()
    if paid != [("INV-1001", 4999)]:
        problems.append(f"payments {paid}")
    if not response.HasField("answer"):
        problems.append(outcome_of(response))
    return problems


def judge_order(response: Response, data_dir: Path) -> list[str]:
    problems = []
    if _calls(response) != [("lookup_order", {"order_id": "ORD-5001"})]:
        problems.append(f"tools {_calls(response)}")
    if not response.HasField("answer"):
        problems.append(outcome_of(response))
    elif "shipped" not in response.answer.text.lower():
        problems.append(f"answer does not say shipped: {response.answer.text!r}")
    return problems


def judge_product(response: Response, data_dir: Path) -> list[str]:
    problems = []
    if _calls(response):
        problems.append(f"tools {_calls(response)}")
    if not response.HasField("answer"):
        problems.append(outcome_of(response))
        return problems
    text = response.answer.text.lower()
    if not any(phrase in text for phrase in ("1 year", "one year", "12 months")):
        problems.append(f"answer lacks the warranty length: {response.answer.text!r}")
    if not any(s.startswith("warranty#") for s in response.answer.sources):
        problems.append(f"does not cite the warranty: {list(response.answer.sources)}")
    return problems


JUDGES: dict[str, Judge] = {
    "refund": judge_refund,
    "order_status": judge_order,
    "product_question": judge_product,
}


async def run_round(number: int) -> dict[str, list[str]]:
    with tempfile.TemporaryDirectory(prefix="conduit-quality-") as tmp:
        data_dir = Path(tmp)
        settings = ConduitSettings(data_dir=data_dir)
        results = {}
        async with EmbeddedConduit(settings) as conduit:
            await conduit.load_knowledge(settings.config_dir / "knowledge")
            for conversation in CONVERSATIONS:
                response = await conduit.client.ask(
                    conversation.text, session_id=f"q{number}", timeout_s=300
                )
                results[conversation.workflow] = JUDGES[conversation.workflow](response, data_dir)
        return results


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
        "prefill_tokens_per_s": prefill.input_tokens / prefill_s,
        "output_tokens": generation.output_tokens,
        "generation_tokens_per_s": generation.output_tokens / generation_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    speed = measure_speed()
    print(
        "model speed (SmolLM2-135M-Instruct Q4_1, llama.cpp, CPU): "
        f"prefill {speed['prefill_tokens_per_s']:.0f} tok/s over {speed['prompt_tokens']} "
        f"tokens, generation {speed['generation_tokens_per_s']:.0f} tok/s over "
        f"{speed['output_tokens']} tokens, "
        f"{speed['n_threads']} thread(s)"
    )
    correct = dict.fromkeys(JUDGES, 0)
    failures: dict[str, list[str]] = {name: [] for name in JUDGES}
    started = time.perf_counter()
    for number in range(1, args.runs + 1):
        for name, problems in asyncio.run(run_round(number)).items():
            if problems:
                failures[name].append(f"run {number}: " + "; ".join(problems))
            else:
                correct[name] += 1
        print(
            f"round {number}/{args.runs} done ({time.perf_counter() - started:.0f} s)", flush=True
        )
    print(
        f"\ncorrect conversations over {args.runs} runs (temperature "
        f"{InferenceSettings().temperature}, seed per request):"
    )
    for name, count in correct.items():
        print(f"  {name:18} {count}/{args.runs}")
        for failure in failures[name]:
            print(f"    {failure}")


if __name__ == "__main__":
    main()
