"""Every conduit process runs NumPy's BLAS (OpenBLAS) on one thread unless told otherwise:
its idle threads spin between the small matrix products of an embedding, and with several
service processes on a few CPUs that spinning cost more CPU than the work."""

from __future__ import annotations

import os
import subprocess
import sys

from shared.config import repo_root

# Loads a service the way `python -m services.intent` does, then asks every loaded OpenBLAS
# (NumPy's, and SciPy's under scikit-learn) how many threads it runs.
PROBE = """
import ctypes
import services.intent.service
import numpy
paths = sorted({line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line})
for path in paths:
    library = ctypes.CDLL(path)
    names = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads")
    print(getattr(library, next(n for n in names if hasattr(library, n)))())
"""


def _blas_threads(**env: str) -> set[int]:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=repo_root(),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the probe failed: {done.stderr[-2000:]}"
    threads = [int(line) for line in done.stdout.split()]
    assert len(threads) >= 2, f"NumPy's and SciPy's OpenBLAS must both be loaded: {threads}"
    return set(threads)


def test_a_service_process_runs_blas_on_one_thread_by_default() -> None:
    assert _blas_threads() == {1}, "an OpenBLAS kept its default threads in a service process"


def test_an_explicit_thread_count_wins() -> None:
    # OpenBLAS never runs more threads than there are CPUs.
    expected = min(2, os.cpu_count() or 1)
    assert _blas_threads(OPENBLAS_NUM_THREADS="2") == {expected}, (
        "OPENBLAS_NUM_THREADS was overridden"
    )
