"""Benchmarks: `make bench` measures the request pipeline embedded and over real Kafka."""
