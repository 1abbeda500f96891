"""What a benchmark ran on and with: the host, the commit, the package and broker versions.

Example: `{"machine": machine(), "versions": versions(kafka=True)}` in a results file.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from shared.config import repo_root
from shared.testing.kafka_server import install_kafka

PACKAGES = ("aiokafka", "faststream", "protobuf", "numpy", "tokenizers")
GIT_TIMEOUT_S = 10.0


def machine() -> dict[str, object]:
    return {
        "cpu": _cpu_model(Path("/proc/cpuinfo").read_text()),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(Path("/proc/meminfo").read_text()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions(*, kafka: bool) -> dict[str, object]:
    """`kafka`: also the broker's version, from the jars the test broker runs."""
    found: dict[str, object] = {"commit": _git("rev-parse", "HEAD")}
    # Other work in the tree (not committed yet) may have been part of what ran.
    found["uncommitted_changes"] = bool(_git("status", "--porcelain", "--untracked-files=no"))
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    if kafka:
        jars = sorted(install_kafka().glob("kafka_*.jar"))
        # kafka_<scala version>-<kafka version>.jar
        found["kafka_broker"] = jars[0].stem.rpartition("-")[2] if jars else None
    return found


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.machine()


def _memory_gib(meminfo: str) -> float:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    raise ValueError("no MemTotal line in /proc/meminfo")


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=True,
    )
    return done.stdout.strip()
