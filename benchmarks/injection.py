"""`make bench-injection`: how well the prompt-injection detector separates attacks from
customer messages, on the held-out part of the labelled set only.

The classifier's reference phrasings are the training part (`config/injection_examples.jsonl`)
and the intent catalog's examples; the figures come from `tests/data/injection/eval.jsonl`,
which shares no text with them. Reported: detection rate (recall on attacks) and
false-positive rate (on benign) for the heuristics alone, the classifier alone and both at
the configured threshold; a threshold sweep; each family's rate; and the detector's latency
per message, one message at a time as the input guardrail calls it, with the query cache
cold and then warm.

Example: `python -m benchmarks.injection --output /tmp/injection.json`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.render import table
from benchmarks.stats import percentile
from shared.config import ConduitSettings, repo_root
from shared.embeddings import CachedEmbedder, default_embedder
from shared.injection import (
    InjectionConfig,
    InjectionDetector,
    LabelledText,
    Part,
    load_guardrails_config,
    load_labelled,
    load_references,
)

EVAL_SET = repo_root() / "tests/data/injection/eval.jsonl"
# Customer messages written for the router's tuning, not for this set: a second look at
# false positives from phrasings the detector's author did not write.
INDEPENDENT_BENIGN = repo_root() / "tests/data/routes/tuning.yaml"
SWEEP = (0.0, 0.05, 0.08, 0.10, 0.12, 0.15, 0.18, 0.20, 0.25)
MODES: dict[str, tuple[Part, ...]] = {
    "heuristics": ("heuristics",),
    "classifier": ("classifier",),
    "combined": ("heuristics", "classifier"),
}
EMBEDDING_MODEL = "all-MiniLM-L6-v2 (384-d, pure NumPy)"
CACHE_CAPACITY = 10_000


@dataclass(frozen=True)
class Outcome:
    """Per held-out message: whether the detector called it an attack."""

    row: LabelledText
    detected: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.injection", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/injection.json")
    return parser


def rates(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    attacks = [o for o in outcomes if o.row.label == "attack"]
    benign = [o for o in outcomes if o.row.label == "benign"]
    caught = sum(o.detected for o in attacks)
    false_alarms = sum(o.detected for o in benign)
    return {
        "attacks": len(attacks),
        "detected": caught,
        "detection_rate": round(caught / len(attacks), 4) if attacks else None,
        "benign": len(benign),
        "false_positives": false_alarms,
        "false_positive_rate": round(false_alarms / len(benign), 4) if benign else None,
    }


def judge(
    detector: InjectionDetector, rows: Sequence[LabelledText], threshold: float
) -> tuple[list[Outcome], list[float]]:
    """Each message alone, as the guardrail sees it, with its latency in milliseconds."""
    outcomes, latencies = [], []
    for row in rows:
        started = time.perf_counter()
        [verdict] = detector.inspect([row.text], threshold=threshold)
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes.append(Outcome(row, verdict.injected))
    return outcomes, latencies


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(sum(values) / len(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
    }


def by_family(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    families: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        families.setdefault((outcome.row.label, outcome.row.source), []).append(outcome)
    return [
        {
            "label": label,
            "source": source,
            "count": len(items),
            "flagged": sum(o.detected for o in items),
        }
        for (label, source), items in sorted(families.items())
    ]


def independent_benign() -> list[LabelledText]:
    messages = yaml.safe_load(INDEPENDENT_BENIGN.read_text(encoding="utf-8"))["messages"]
    return [LabelledText(text=m["text"], label="benign", source="route_tuning") for m in messages]


def run(
    config: InjectionConfig,
    training: list[LabelledText],
    held_out: list[LabelledText],
    independent: list[LabelledText],
) -> dict[str, Any]:
    threshold = config.user_input.threshold
    embedder = CachedEmbedder(default_embedder(), capacity=CACHE_CAPACITY)
    detectors = {
        mode: InjectionDetector(
            embedder, training, neighbours=config.classifier.neighbours, parts=parts
        )
        for mode, parts in MODES.items()
    }
    for detector in detectors.values():
        detector.warm_up()
    modes, latencies, outcomes = {}, {}, {}
    # The classifier runs first, so its latencies are with the query cache cold.
    for mode, timing in (
        ("classifier", "classifier (cache cold)"),
        ("heuristics", "heuristics"),
        ("combined", "combined (cache warm)"),
    ):
        outcomes[mode], timings = judge(detectors[mode], held_out, threshold)
        modes[mode] = rates(outcomes[mode])
        latencies[timing] = latency_ms(timings)
    cold = CachedEmbedder(default_embedder(), capacity=CACHE_CAPACITY)
    combined_cold = InjectionDetector(cold, training, neighbours=config.classifier.neighbours)
    combined_cold.warm_up()
    latencies["combined (cache cold)"] = latency_ms(judge(combined_cold, held_out, threshold)[1])
    sweep = [
        {
            "threshold": value,
            "classifier": rates(judge(detectors["classifier"], held_out, value)[0]),
            "combined": rates(judge(detectors["combined"], held_out, value)[0]),
        }
        for value in SWEEP
    ]
    return {
        "threshold": threshold,
        "modes": modes,
        "independent_benign": {
            mode: rates(judge(detectors[mode], independent, threshold)[0]) for mode in MODES
        },
        "sweep": sweep,
        "latency_ms": latencies,
        "families": by_family(outcomes["combined"]),
        "missed_attacks": [o.row.text for o in outcomes["combined"] if _missed(o)],
        "false_positives": [o.row.text for o in outcomes["combined"] if _false_alarm(o)],
    }


def _missed(outcome: Outcome) -> bool:
    return outcome.row.label == "attack" and not outcome.detected


def _false_alarm(outcome: Outcome) -> bool:
    return outcome.row.label == "benign" and outcome.detected


def render(report: dict[str, Any], training: Sequence[LabelledText]) -> str:
    modes = table(
        ("detector", "attacks", "detected", "detection rate", "benign", "false pos.", "FP rate"),
        [
            (
                mode,
                r["attacks"],
                r["detected"],
                _pct(r["detection_rate"]),
                r["benign"],
                r["false_positives"],
                _pct(r["false_positive_rate"]),
            )
            for mode, r in report["modes"].items()
        ],
    )
    independent = table(
        ("detector", "messages", "false pos.", "FP rate"),
        [
            (mode, r["benign"], r["false_positives"], _pct(r["false_positive_rate"]))
            for mode, r in report["independent_benign"].items()
        ],
    )
    sweep = table(
        ("threshold", "classifier det.", "classifier FP", "combined det.", "combined FP"),
        [
            (
                f"{s['threshold']:.2f}" + (" *" if s["threshold"] == report["threshold"] else ""),
                _pct(s["classifier"]["detection_rate"]),
                _pct(s["classifier"]["false_positive_rate"]),
                _pct(s["combined"]["detection_rate"]),
                _pct(s["combined"]["false_positive_rate"]),
            )
            for s in report["sweep"]
        ],
    )
    families = table(
        ("label", "family", "messages", "flagged", "share"),
        [
            (f["label"], f["source"], f["count"], f["flagged"], _pct(f["flagged"] / f["count"]))
            for f in report["families"]
        ],
    )
    latency = table(
        ("detector", "mean ms", "p50 ms", "p95 ms"),
        [(mode, t["mean"], t["p50"], t["p95"]) for mode, t in report["latency_ms"].items()],
    )
    attacks = sum(r.label == "attack" for r in training)
    intents = sum(r.source.startswith("intent:") for r in training)
    return (
        f"=== prompt injection, held-out set (classifier references: {attacks} attack and "
        f"{len(training) - attacks - intents} benign training phrasings, {intents} intent "
        f"examples; threshold "
        f"{report['threshold']:.2f}) ===\n{modes}\n\n"
        f"=== independent benign set ({INDEPENDENT_BENIGN.name}, written for intent "
        f"accuracy) ===\n{independent}\n\n"
        f"=== threshold sweep (* = configured) ===\n{sweep}\n\n"
        f"=== combined detector by family ===\n{families}\n\n"
        f"=== latency per message ({os.cpu_count()} CPUs, load average before "
        f"{_load(report['load_average']['before'])}, after "
        f"{_load(report['load_average']['after'])}) ===\n{latency}"
    )


def _load(averages: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config_dir = ConduitSettings().config_dir
    config = load_guardrails_config(config_dir).injection
    training = load_references(config_dir, config.classifier)
    held_out = load_labelled(EVAL_SET)
    load_before = os.getloadavg()
    report = run(config, training, held_out, independent_benign())
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(render(report, training))
    results = {
        "data": {
            "training": str(config_dir / config.classifier.examples),
            "held_out": str(EVAL_SET),
            "intent_examples": config.classifier.intent_examples,
            "reference_attacks": sum(r.label == "attack" for r in training),
            "reference_benign": sum(r.label == "benign" for r in training),
            "held_out_attacks": sum(r.label == "attack" for r in held_out),
            "held_out_benign": sum(r.label == "benign" for r in held_out),
            "independent_benign": str(INDEPENDENT_BENIGN),
        },
        "embedding": EMBEDDING_MODEL,
        "neighbours": config.classifier.neighbours,
        "retrieved_threshold": config.retrieved.threshold,
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "created_unix": int(time.time()),
        **report,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults written to {args.output}")


if __name__ == "__main__":
    main()
