"""Benchmarks: `make bench` times the request pipeline (`benchmarks.pipeline`) embedded and
over real Kafka; `benchmarks.model_quality` scores the real local model."""
