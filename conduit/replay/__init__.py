"""`conduit replay`: recorded requests re-run with other prompts, models or workflows, in a
sandbox where tools answer from the recording, compared with what they did then."""

from conduit.replay.compare import Comparison, RunSummary, Thresholds, compare, summarize
from conduit.replay.kafka_source import read_recordings_from_kafka
from conduit.replay.overrides import OverrideError, ReplayOverrides, prepare_config
from conduit.replay.recorded_tools import TOOL_NOT_RECORDED, RecordedTools
from conduit.replay.recording import (
    Recording,
    Selection,
    assemble,
    read_recordings,
    write_recordings,
)
from conduit.replay.report import ReplayReport, render_html, render_markdown
from conduit.replay.sandbox import SandboxUnavailable, replay

__all__ = [
    "TOOL_NOT_RECORDED",
    "Comparison",
    "OverrideError",
    "RecordedTools",
    "Recording",
    "ReplayOverrides",
    "ReplayReport",
    "RunSummary",
    "SandboxUnavailable",
    "Selection",
    "Thresholds",
    "assemble",
    "compare",
    "prepare_config",
    "read_recordings",
    "read_recordings_from_kafka",
    "render_html",
    "render_markdown",
    "replay",
    "summarize",
    "write_recordings",
]
