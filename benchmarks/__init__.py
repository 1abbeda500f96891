"""Benchmarks: `make bench` times the request pipeline (`benchmarks.pipeline`) embedded and
over real Kafka; `make bench-retrieval` scores and times retrieval on the embedded store and
Weaviate (`benchmarks.retrieval`); `benchmarks.model_quality` scores the real local model."""

import shared  # noqa: F401  (first: it caps NumPy's BLAS threads before NumPy loads)
