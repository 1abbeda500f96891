"""conduit's entry points: the `conduit` command line and the embedded (one-process) mode."""

import shared  # noqa: F401  (first: it caps NumPy's BLAS threads before NumPy loads)
