"""`conduit replay`: re-run recorded requests with other prompts, models or workflows.

`conduit replay run` reads the selected requests (from Kafka, or from a file `conduit
replay export` wrote), replays them in the sandbox with the overrides and writes
`replay-report.md` and `replay-report.html`, regressions first. `conduit replay export`
writes the selected recordings to a JSONL file, so a replay needs no cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from conduit.deadletters import kafka_command
from conduit.replay.compare import Thresholds, compare
from conduit.replay.kafka_source import read_recordings_from_kafka
from conduit.replay.overrides import OverrideError, ReplayOverrides, parse_prompt_override
from conduit.replay.recording import Recording, Selection, read_recordings, write_recordings
from conduit.replay.report import ReplayReport, counts_line, render_html, render_markdown
from conduit.replay.sandbox import SandboxUnavailable, replay
from shared.bus import Topics
from shared.config import ConduitSettings

REPORT_NAME = "replay-report"
# Exit status of `run --fail-on-regression` when a request regressed.
REGRESSED = 4


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("replay", help="re-run recorded requests with other versions")
    verbs = parser.add_subparsers(dest="replay_command", required=True)
    run = verbs.add_parser("run", help="replay in a sandbox and write the comparison report")
    export = verbs.add_parser("export", help="write the selected recordings to a JSONL file")
    for verb in (run, export):
        verb.add_argument(
            "--request-id", dest="request_ids", action="append", default=[], metavar="ID"
        )
        verb.add_argument("--tenant", default=None)
        verb.add_argument("--since", type=_time_ms, help="ISO 8601 time or ms since the epoch")
        verb.add_argument("--until", type=_time_ms, help="excluded; as --since")
        verb.add_argument("--from-file", type=Path, help="recordings `export` wrote, not Kafka")
    export.add_argument("--output", type=Path, required=True)
    run.add_argument(
        "--prompt",
        dest="prompts",
        action="append",
        default=[],
        metavar="TEMPLATE=VERSION",
        help="pin a prompt template to a version number or label; repeatable",
    )
    run.add_argument("--model", default=None, help="a models-file entry for every model step")
    run.add_argument("--models", type=Path, default=None, help="the models file to use")
    run.add_argument(
        "--config-overlay",
        type=Path,
        default=None,
        help="files laid over the config dir (new prompt versions, workflow files)",
    )
    run.add_argument("--knowledge", type=Path, default=None, help="documents to retrieve from")
    run.add_argument("--output-dir", type=Path, default=Path())
    run.add_argument("--max-cost-increase", type=float, default=10.0, metavar="PERCENT")
    run.add_argument("--max-token-increase", type=float, default=10.0, metavar="PERCENT")
    run.add_argument("--fail-on-regression", action="store_true")


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run a parsed `conduit replay` command; returns the process exit status."""
    if args.from_file is not None:
        return _run(settings, args)
    return kafka_command(
        settings, "recordings, unless --from-file names a file,", lambda: _run(settings, args)
    )


def _run(settings: ConduitSettings, args: argparse.Namespace) -> int:
    selection = Selection(
        request_ids=frozenset(args.request_ids),
        tenant_id=args.tenant,
        since_ms=args.since,
        until_ms=args.until,
    )
    recordings = _recordings(settings, selection, args.from_file)
    if not recordings:
        print("no recorded request matches the selection", file=sys.stderr)
        return 1
    if args.replay_command == "export":
        write_recordings(args.output, recordings)
        print(f"exported {len(recordings)} recordings to {args.output}")
        return 0
    try:
        overrides = ReplayOverrides(
            prompts=dict(parse_prompt_override(text) for text in args.prompts),
            model=args.model,
            models_file=args.models,
            overlay=args.config_overlay,
        )
        replayed = asyncio.run(
            replay(recordings, settings, overrides, knowledge_dir=args.knowledge)
        )
    except (OverrideError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    thresholds = Thresholds(
        cost_increase=args.max_cost_increase / 100, token_increase=args.max_token_increase / 100
    )
    report = ReplayReport(
        [compare(was, now, thresholds) for was, now in zip(recordings, replayed, strict=True)],
        overrides=overrides.describe(),
    )
    written = write_report(report, args.output_dir)
    print(f"{counts_line(report)}; report: {', '.join(str(path) for path in written)}")
    regressed = report.count("regression") > 0
    return REGRESSED if args.fail_on_regression and regressed else 0


def write_report(report: ReplayReport, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown = directory / f"{REPORT_NAME}.md"
    page = directory / f"{REPORT_NAME}.html"
    markdown.write_text(render_markdown(report), encoding="utf-8")
    page.write_text(render_html(report), encoding="utf-8")
    return [markdown, page]


def _recordings(
    settings: ConduitSettings, selection: Selection, from_file: Path | None
) -> list[Recording]:
    if from_file is None:
        topics = Topics(settings.topic_prefix)
        return asyncio.run(read_recordings_from_kafka(settings.kafka_bootstrap, topics, selection))
    return [r for r in read_recordings(from_file) if selection.matches(r.request)]


def _time_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is no ISO 8601 time or ms count") from exc
    return int(moment.timestamp() * 1000)
