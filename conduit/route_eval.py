"""`conduit eval routes FILE`: how the intent step routes a labelled set of messages.

Prints accuracy, the confusion matrix, per-route precision and recall, the expected
calibration error, the handoff rate, the time per message and the most-confused messages;
writes a PNG (confusion matrix and reliability diagram) and, on request, the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from conduit.deadletters import one_line, render_table
from conduit.route_model_choice import ModelChoice
from services.intent.catalog import OUT_OF_SCOPE, IntentCatalog, load_intent_catalog
from services.intent.classifier import UNSURE, Classification, IntentClassifier
from shared.config import ConduitSettings, ConfigFileError, load_yaml_model
from shared.embeddings import default_embedder

CALIBRATION_BINS = 10
WORST_SHOWN = 10
# Routes the triage workflow hands to a person, as it does an unsure request.
_TO_A_PERSON = frozenset({"escalation", OUT_OF_SCOPE})


class LabelledMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    route: str = Field(min_length=1)


class LabelledSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    messages: list[LabelledMessage] = Field(min_length=1)


@dataclass(frozen=True)
class Routed:
    message: LabelledMessage
    result: Classification
    seconds: float

    @property
    def right(self) -> bool:
        return self.result.route == self.message.route


def load_labelled(path: Path, catalog: IntentCatalog) -> LabelledSet:
    """The file's messages; a route the catalog does not declare fails naming the message."""
    labelled = load_yaml_model(path, LabelledSet)
    known = {*catalog.intents, OUT_OF_SCOPE}
    for index, message in enumerate(labelled.messages):
        if message.route not in known:
            raise ConfigFileError(
                f"{path}: messages.{index}.route: {message.route!r} is not a route "
                f"(declared: {', '.join(sorted(known))})"
            )
    return labelled


def route_all(classifier: IntentClassifier, messages: Sequence[LabelledMessage]) -> list[Routed]:
    """Classify one message at a time, as the step does, timing each."""
    routed = []
    for message in messages:
        started = time.perf_counter()
        [result] = classifier.classify([message.text])
        routed.append(Routed(message, result, time.perf_counter() - started))
    return routed


def figures(routed: Sequence[Routed], routes: Sequence[str]) -> dict[str, Any]:
    """Everything the command reports, as plain data."""
    total = len(routed)
    predicted_routes = [*routes, UNSURE]
    confusion = {
        expected: {p: sum(r.message.route == expected and r.result.route == p for r in routed)
                   for p in predicted_routes}
        for expected in routes
    }  # fmt: skip
    per_route = {}
    for route in routes:
        hits = confusion[route][route]
        claimed = sum(r.result.route == route for r in routed)
        labelled = sum(r.message.route == route for r in routed)
        per_route[route] = {
            "messages": labelled,
            "precision": hits / claimed if claimed else None,
            "recall": hits / labelled if labelled else None,
        }
    seconds = sorted(r.seconds for r in routed)
    return {
        "messages": total,
        "accuracy": sum(r.right for r in routed) / total,
        "unsure_rate": sum(r.result.unsure for r in routed) / total,
        "handoff_rate": sum(r.result.unsure or r.result.route in _TO_A_PERSON for r in routed)
        / total,
        "expected_calibration_error": calibration_error(routed),
        "per_route": per_route,
        "confusion": confusion,
        "ms_per_message": {
            "mean": 1000 * sum(seconds) / total,
            "p95": 1000 * seconds[min(total - 1, int(0.95 * total))],
            "max": 1000 * seconds[-1],
        },
        "slowest": [
            {"text": r.message.text, "ms": 1000 * r.seconds}
            for r in sorted(routed, key=lambda r: -r.seconds)[:5]
        ],
        "most_confused": [
            {
                "text": r.message.text,
                "expected": r.message.route,
                "got": r.result.route,
                "confidence": r.result.confidence,
                "reason": r.result.reason,
            }
            for r in sorted((r for r in routed if not r.right), key=lambda r: -r.result.confidence)
        ][:WORST_SHOWN],
    }


def calibration_error(routed: Sequence[Routed]) -> float:
    """Expected calibration error of the likeliest class: the mean, weighted by bin size, of
    |accuracy - mean probability| over ten equal-width probability bins."""
    bins = calibration_bins(routed)
    scored = sum(len(members) for members in bins)
    if not scored:
        return 0.0
    return sum(
        len(members) / scored * abs(_argmax_accuracy(members) - _mean_confidence(members))
        for members in bins
    )


def calibration_bins(routed: Sequence[Routed]) -> list[list[Routed]]:
    """The classified messages in ten equal-width bins of their best probability, lowest
    first, empty bins left out (refused messages have no probability)."""
    bins: dict[int, list[Routed]] = {}
    for r in routed:
        if r.result.scores:
            index = min(CALIBRATION_BINS - 1, int(r.result.confidence * CALIBRATION_BINS))
            bins.setdefault(index, []).append(r)
    return [bins[index] for index in sorted(bins)]


def _argmax_accuracy(members: Sequence[Routed]) -> float:
    return sum(r.result.intent == r.message.route for r in members) / len(members)


def _mean_confidence(members: Sequence[Routed]) -> float:
    return sum(r.result.confidence for r in members) / len(members)


async def second_stage(
    settings: ConduitSettings, routed: Sequence[Routed], bars: Sequence[float]
) -> dict[str, Any]:
    """For each bar: the messages whose first-stage probability is under it go to the
    model; accuracy with the first stage alone (those go to a person, counted wrong), with
    the model choosing for them, and on those messages the model's hits against the
    classifier's own likeliest route."""
    asked = [r for r in routed if r.result.scores and r.result.confidence < max(bars)]
    choices: dict[int, str] = {}
    seconds = 0.0
    async with ModelChoice(settings) as model:
        for r in asked:
            started = time.perf_counter()
            choices[id(r)] = await model.route(r.message.text)
            seconds += time.perf_counter() - started
    rows = []
    for bar in sorted(bars):
        sent = [r for r in asked if r.result.confidence < bar]
        kept_right = sum(r.result.intent == r.message.route for r in routed
                         if r.result.scores and r.result.confidence >= bar)  # fmt: skip
        model_right = sum(choices[id(r)] == r.message.route for r in sent)
        rows.append(
            {
                "below": bar,
                "sent_to_model": len(sent),
                "accuracy_first_stage_alone": kept_right / len(routed),
                "accuracy_with_model": (kept_right + model_right) / len(routed),
                "model_right_on_sent": model_right,
                "classifier_right_on_sent": sum(r.result.intent == r.message.route for r in sent),
            }
        )
    return {"model_seconds_per_message": seconds / len(asked) if asked else 0.0, "bars": rows}


def render_second_stage(figures: dict[str, Any]) -> str:
    header = ["BELOW", "TO MODEL", "ALONE", "WITH MODEL", "MODEL RIGHT", "CLASSIFIER RIGHT"]
    rows = [
        [
            f"{row['below']:.2f}",
            str(row["sent_to_model"]),
            f"{row['accuracy_first_stage_alone']:.1%}",
            f"{row['accuracy_with_model']:.1%}",
            str(row["model_right_on_sent"]),
            str(row["classifier_right_on_sent"]),
        ]
        for row in figures["bars"]
    ]
    return (
        "second stage (the model chooses for messages under the bar; alone: they go to a "
        f"person), {figures['model_seconds_per_message']:.2f} s per model choice\n"
        + render_table(header, rows)
    )


def render(report: dict[str, Any], source: Path) -> str:
    routes = list(report["per_route"])
    lines = [
        f"{source}: {report['messages']} messages, accuracy {report['accuracy']:.1%}, "
        f"unsure {report['unsure_rate']:.1%}, to a person {report['handoff_rate']:.1%}, "
        f"ECE {report['expected_calibration_error']:.3f}, "
        f"{report['ms_per_message']['mean']:.1f} ms per message "
        f"(p95 {report['ms_per_message']['p95']:.1f})",
        "",
        render_table(
            ["ROUTE", "MESSAGES", "PRECISION", "RECALL"],
            [
                [route, str(row["messages"]), _percent(row["precision"]), _percent(row["recall"])]
                for route, row in report["per_route"].items()
            ],
        ),
        "",
        "confusion (rows: expected, columns: routed to)",
        render_table(
            ["", *routes, UNSURE],
            [[route, *map(str, report["confusion"][route].values())] for route in routes],
        ),
    ]
    if report["most_confused"]:
        lines += ["", "most confused (wrong, most confident first)"]
        lines.append(
            render_table(
                ["EXPECTED", "GOT", "P", "MESSAGE"],
                [
                    [m["expected"], m["got"], f"{m['confidence']:.2f}", one_line(m["text"], 70)]
                    for m in report["most_confused"]
                ],
            )
        )
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def write_chart(report: dict[str, Any], routed: Sequence[Routed], path: Path) -> None:
    """The confusion matrix and the reliability diagram, side by side."""
    figure = Figure(figsize=(13, 5.5), layout="constrained")
    matrix_axes, reliability = figure.subplots(1, 2)
    routes = list(report["per_route"])
    columns = [*routes, UNSURE]
    cells = [[report["confusion"][r][c] for c in columns] for r in routes]
    matrix_axes.imshow(cells, cmap="Blues")
    matrix_axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    matrix_axes.set_yticks(range(len(routes)), routes)
    matrix_axes.set_xlabel("routed to")
    matrix_axes.set_ylabel("expected")
    for row, values in enumerate(cells):
        for column, value in enumerate(values):
            matrix_axes.text(column, row, str(value), ha="center", va="center")
    matrix_axes.set_title(f"accuracy {report['accuracy']:.1%} of {report['messages']}")
    bins = calibration_bins(routed)
    reliability.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    reliability.scatter(
        [_mean_confidence(members) for members in bins],
        [_argmax_accuracy(members) for members in bins],
        s=[20 + 4 * len(members) for members in bins],
        label="bins (area: messages)",
    )
    reliability.set_xlabel("probability of the likeliest route")
    reliability.set_ylabel("share right")
    reliability.set_title(f"ECE {report['expected_calibration_error']:.3f}")
    reliability.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser("eval", help="evaluate a part of conduit on a labelled file")
    parts = evaluate.add_subparsers(dest="eval_command", required=True)
    routes = parts.add_parser("routes", help="the intent step's routes against labelled messages")
    routes.add_argument("file", type=Path, help="YAML: messages: [{text, route}]")
    routes.add_argument("--chart", type=Path, default=Path("routes.png"), help="PNG to write")
    routes.add_argument("--json", type=Path, default=None, help="also write the figures here")
    routes.add_argument(
        "--second-stage",
        action="store_true",
        help="also ask the configured model (workflow route_by_model) about the messages "
        "whose first-stage probability is under each --below bar",
    )
    routes.add_argument(
        "--below", type=float, nargs="+", default=[0.4, 0.6, 0.8, 0.95], metavar="P"
    )


def started_classifier(
    catalog: IntentCatalog, vectors_dir: Path
) -> tuple[IntentClassifier, dict[str, float]]:
    """A trained classifier, and how long each part of its start took: loading the embedder,
    training on a fresh disk (every example embedded), training again once the examples'
    vectors are stored (as a restarted service does), and loading the language identifier."""
    embedder = default_embedder()
    seconds = {"embedder": _timed(embedder.warm_up)}
    for part in ("training", "training_stored"):
        classifier = IntentClassifier(catalog, embedder, vectors_dir)
        seconds[part] = _timed(classifier.train)
    seconds["language_identifier"] = _timed(classifier.warm_up)
    return classifier, seconds


def _timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run `conduit eval routes`; a labelled file that does not load exits 2 naming the file
    and the field."""
    catalog = load_intent_catalog(settings.config_dir / "intents.yaml")
    try:
        labelled = load_labelled(args.file, catalog)
    except ConfigFileError as exc:
        print(f"conduit eval routes: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as vectors_dir:
        classifier, start_up = started_classifier(catalog, Path(vectors_dir))
    routed = route_all(classifier, labelled.messages)
    routes = [*catalog.intents, OUT_OF_SCOPE]
    report = {"source": str(args.file), "start_up_s": start_up, **figures(routed, routes)}
    print(render(report, args.file))
    print(
        f"\nstart-up: embedder {start_up['embedder']:.2f} s, language identifier "
        f"{start_up['language_identifier']:.2f} s, training {start_up['training']:.2f} s "
        f"({start_up['training_stored']:.2f} s with the examples' vectors stored by an "
        f"earlier start); chart: {args.chart}"
    )
    if args.second_stage:
        report["second_stage"] = asyncio.run(second_stage(settings, routed, args.below))
        print("\n" + render_second_stage(report["second_stage"]))
    write_chart(report, routed, args.chart)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0
