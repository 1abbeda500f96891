"""Helm comes from scripts/install-helm.sh (built from the Go module proxy once, cached): a
Helm that cannot be had fails these tests with the reason, never skips them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.config import repo_root
from tests.chart.rendering import VALUES_SETS, Rendered, merged_values, render


@pytest.fixture(scope="session")
def helm() -> Path:
    script = repo_root() / "scripts" / "install-helm.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        pytest.fail(f"{script} failed:\n{done.stderr[-3000:]}", pytrace=False)
    return Path(done.stdout.strip())


@pytest.fixture(scope="session", params=sorted(VALUES_SETS))
def rendered(request: pytest.FixtureRequest, helm: Path) -> Rendered:
    values = VALUES_SETS[request.param]
    return Rendered(request.param, merged_values(values), render(helm, values))
