"""Applying the configured action to what the detector finds: in the customer's request at
the input guardrail, and in retrieved chunks before they reach a prompt."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from shared.config import ConfigFileError
from shared.contracts import Chunk, UserRequest
from shared.embeddings import Embedder, default_query_embedder
from shared.injection.config import (
    GUARDRAILS_FILE,
    InjectionConfig,
    load_guardrails_config,
    load_references,
)
from shared.injection.detector import InjectionDetector, InjectionVerdict
from shared.runtime import InputRejected

FINDING_PREFIX = "prompt_injection"


class InjectionScreen:
    """Screens requests and chunks as `config/guardrails.yaml` says; `request` raises
    `InputRejected` when the action is `block`.

    >>> screen = InjectionScreen.from_config(settings.config_dir)  # doctest: +SKIP
    >>> screen.warm_up()  # doctest: +SKIP
    >>> findings = screen.request(event.request)  # doctest: +SKIP
    >>> kept, findings = screen.chunks(event.retrieval.chunks)  # doctest: +SKIP
    """

    def __init__(self, detector: InjectionDetector, config: InjectionConfig) -> None:
        self._detector = detector
        self._config = config

    @classmethod
    def from_config(cls, config_dir: Path, embedder: Embedder | None = None) -> InjectionScreen:
        config = load_guardrails_config(config_dir).injection
        references = load_references(config_dir, config.classifier)
        try:
            detector = InjectionDetector(
                embedder or default_query_embedder(),
                references,
                neighbours=config.classifier.neighbours,
                parts=config.parts,
            )
        except ValueError as exc:
            field = f"{config_dir / GUARDRAILS_FILE}: injection.classifier.neighbours"
            raise ConfigFileError(f"{field}: {exc}") from exc
        return cls(detector, config)

    def warm_up(self) -> None:
        self._detector.warm_up()

    def request(self, request: UserRequest) -> list[str]:
        """Screen the text and the user's history turns; returns the findings to record.

        Assistant turns from conduit's own store are its earlier answers (tool results quoted
        in them read like instructions) and are not screened; a history the caller supplied
        (``history_from_caller``) is screened whole, since anyone can write "assistant".

        Under `block` a finding raises `InputRejected`; under `strip` the offending
        sentences are removed in place (a turn left empty is removed, a text left empty
        is rejected). CPU-bound: call it off the event loop.
        """
        policy = self._config.user_input
        texts = [request.text, *(turn.content for turn in request.history)]
        trusted = not request.history_from_caller
        screened = [
            0,
            *(
                i + 1
                for i, turn in enumerate(request.history)
                if not (trusted and turn.role == "assistant")
            ),
        ]
        inspected = self._detector.inspect([texts[i] for i in screened], threshold=policy.threshold)
        verdicts = dict(zip(screened, inspected, strict=True))
        findings = []
        emptied_turns = []
        for index, verdict in sorted(verdicts.items()):
            if not verdict.injected:
                continue
            where = "text" if index == 0 else f"history[{index - 1}]"
            if policy.action == "block":
                raise InputRejected(
                    f"input rejected: it reads as an attempt to instruct the assistant "
                    f"({where}: {', '.join(verdict.signals)})"
                )
            if policy.action == "strip":
                kept = verdict.stripped(texts[index])
                if index == 0 and not kept:
                    raise InputRejected(
                        "input rejected: nothing is left once the suspected prompt "
                        f"injection is removed ({', '.join(verdict.signals)})"
                    )
                if index == 0:
                    request.text = kept
                elif kept:
                    request.history[index - 1].content = kept
                else:
                    emptied_turns.append(index - 1)
                findings.append(_finding(where, _stripped(verdict), verdict))
            else:
                findings.append(_finding(where, "flagged", verdict))
        for turn in reversed(emptied_turns):
            del request.history[turn]
        return findings

    def chunks(self, chunks: Sequence[Chunk]) -> tuple[list[Chunk], list[str]]:
        """The chunks that may enter a prompt (dropped, stripped or kept as configured)
        and the findings to record. CPU-bound: call it off the event loop."""
        policy = self._config.retrieved
        verdicts = self._detector.inspect([c.text for c in chunks], threshold=policy.threshold)
        kept, findings = [], []
        for chunk, verdict in zip(chunks, verdicts, strict=True):
            where = f"chunk {chunk.source_id}"
            if not verdict.injected:
                kept.append(chunk)
            elif policy.action == "flag":
                kept.append(chunk)
                findings.append(_finding(where, "flagged", verdict))
            elif policy.action == "strip" and (text := verdict.stripped(chunk.text)):
                stripped = Chunk()
                stripped.CopyFrom(chunk)
                stripped.text = text
                kept.append(stripped)
                findings.append(_finding(where, _stripped(verdict), verdict))
            else:
                findings.append(_finding(where, "dropped", verdict))
        return kept, findings


def _stripped(verdict: InjectionVerdict) -> str:
    count = len(verdict.offending)
    return f"stripped of {count} sentence{'s' if count != 1 else ''}"


def _finding(where: str, outcome: str, verdict: InjectionVerdict) -> str:
    """`prompt_injection: text flagged (override_instruction, classifier; score 0.21)`."""
    score = "n/a" if math.isnan(verdict.score) else f"{verdict.score:.2f}"
    return f"{FINDING_PREFIX}: {where} {outcome} ({', '.join(verdict.signals)}; score {score})"
