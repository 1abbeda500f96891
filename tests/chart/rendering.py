"""Rendering charts/conduit with the pinned Helm, and reading what it rendered."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.config import repo_root

CHART = repo_root() / "charts" / "conduit"
# A version kubernetes-validate bundles schemas for; Helm would otherwise assume 1.20.
KUBE_VERSION = "1.33.0"
RELEASE = "conduit"

# Each values set the chart supports, as the -f files that make it.
VALUES_SETS: Mapping[str, tuple[str, ...]] = {
    "default": (),
    "local": ("values-local.yaml",),
    "production": ("values-production.yaml",),
    "gpu": ("values-gpu.yaml",),
    "production+gpu": ("values-production.yaml", "values-gpu.yaml"),
}

Manifest = dict[str, Any]


def helm_command(
    helm: Path, verb: str, values: Sequence[str], sets: Sequence[str], flags: Sequence[str]
) -> list[str]:
    command = [str(helm), verb, *flags]
    if verb == "template":
        command.append(RELEASE)
    command += [str(CHART), "--kube-version", KUBE_VERSION]
    for name in values:
        command += ["--values", str(CHART / name)]
    for assignment in sets:
        command += ["--set", assignment]
    return command


def run_helm(
    helm: Path,
    verb: str,
    values: Sequence[str] = (),
    sets: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        helm_command(helm, verb, values, sets, flags),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def render(helm: Path, values: Sequence[str] = (), sets: Sequence[str] = ()) -> list[Manifest]:
    done = run_helm(helm, "template", values, sets)
    if done.returncode != 0:
        raise AssertionError(f"helm template {list(values)} {list(sets)} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@dataclass(frozen=True)
class Rendered:
    """The objects one values set renders."""

    name: str
    values: Manifest
    objects: list[Manifest]

    def of_kind(self, kind: str) -> Iterator[Manifest]:
        return (o for o in self.objects if o["kind"] == kind)

    def named(self, kind: str, name: str) -> Manifest:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"{self.name}: expected one {kind} {name}, got {len(matches)}"
        return matches[0]


def merged_values(values: Sequence[str]) -> Manifest:
    """The chart's values with the files of a values set over them (maps merge, the rest
    replaces, null removes), as Helm merges them."""
    merged: Manifest = yaml.safe_load((CHART / "values.yaml").read_text())
    for name in values:
        _merge(merged, yaml.safe_load((CHART / name).read_text()))
    return merged


def _merge(into: Manifest, over: Manifest) -> None:
    for key, value in over.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
