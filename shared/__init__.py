"""Code shared by every conduit service.

Importing it caps OpenBLAS, NumPy's BLAS, at one thread unless `OPENBLAS_NUM_THREADS` says
otherwise: conduit's matrices (the embedding of a sentence or a few chunks) gain little from
threads, and OpenBLAS's idle threads spin between calls. With several service processes on
a few CPUs the spinning cost more than the work: `make bench` over Kafka used 354 CPU ms per
request with the default threads and 157 with one. It must run before NumPy loads, so the
entry-point packages (`conduit`, `services`, `benchmarks`) import this package first.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
