"""The conduit services, one package each."""

import shared  # noqa: F401  (first: it caps NumPy's BLAS threads before NumPy loads)
