"""The one Dockerfile (no Docker engine here to build it): every stage starts from a pinned
base, every image that runs ends as a non-root user, and the service image runs the
service named at build time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.config import repo_root

BUILD_ONLY_STAGES = {"builder"}
PINNED_TAG = re.compile(r"^[^:@\s]+(:[0-9][\w.-]*|@sha256:[0-9a-f]{64})$")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [value for word, value in self.instructions if word == keyword]
        return values[-1] if values else None


def _stages() -> list[Stage]:
    text = (repo_root() / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    stages: list[Stage] = []
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, value = line.partition(" ")
        if word.upper() == "FROM":
            base, _, name = value.partition(" AS ")
            stages.append(Stage(name=name.strip() or base, base=base.strip()))
        else:
            stages[-1].instructions.append((word.upper(), value.strip()))
    return stages


def test_every_stage_starts_from_a_pinned_base_image() -> None:
    loose = [(s.name, s.base) for s in _stages() if not PINNED_TAG.match(s.base)]
    assert not loose, f"stages on an unpinned (or 'latest') base: {loose}"


def test_every_runnable_image_ends_as_a_non_root_user() -> None:
    for stage in _stages():
        if stage.name in BUILD_ONLY_STAGES:
            continue
        user = stage.last("USER")
        assert user is not None, f"stage {stage.name} runs as root (no USER)"
        assert user.split(":")[0] not in ("0", "root"), f"stage {stage.name} runs as {user}"


def test_the_default_target_is_the_service_image_running_the_named_service() -> None:
    last = _stages()[-1]
    assert last.name == "service", f"the default (last) stage is {last.name}"
    assert last.last("ARG") == "SERVICE=guardrail", last.instructions
    entrypoint = last.last("ENTRYPOINT") or ""
    assert "conduit up" in entrypoint, entrypoint
    assert "$CONDUIT_SERVICE" in entrypoint, entrypoint


def test_the_triton_image_is_nvidias_server_with_the_inference_model_repository() -> None:
    [triton] = [s for s in _stages() if s.name == "triton"]
    assert triton.base.startswith("nvcr.io/nvidia/tritonserver:"), triton.base
    entrypoint = triton.last("ENTRYPOINT") or ""
    assert "services/inference/triton_models" in entrypoint, entrypoint
    assert (repo_root() / "services" / "inference" / "triton_models").is_dir()
