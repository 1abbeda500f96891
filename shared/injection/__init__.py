"""Prompt-injection defence: pattern heuristics and an embedding classifier over known
attack phrasings, with a configured action (block, strip, flag; drop for chunks).

    >>> screen = InjectionScreen.from_config(config_dir)  # doctest: +SKIP
    >>> findings = screen.request(event.request)  # doctest: +SKIP
"""

from shared.injection.config import (
    GuardrailsConfig,
    InjectionConfig,
    LabelledText,
    Part,
    load_guardrails_config,
    load_labelled,
    load_references,
)
from shared.injection.detector import InjectionDetector, InjectionVerdict, Segment, segments
from shared.injection.heuristics import normalise, signals
from shared.injection.screen import FINDING_PREFIX, InjectionScreen

__all__ = [
    "FINDING_PREFIX",
    "GuardrailsConfig",
    "InjectionConfig",
    "InjectionDetector",
    "InjectionScreen",
    "InjectionVerdict",
    "LabelledText",
    "Part",
    "Segment",
    "load_guardrails_config",
    "load_labelled",
    "load_references",
    "normalise",
    "segments",
    "signals",
]
