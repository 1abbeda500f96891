# The verbs of conduit. Everything installs itself: a fresh clone needs only these.
PYTHON := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-unit test-kafka lint format proto bench bench-retrieval bench-inference soak up kafka jaeger weaviate openapi bench-gateway bench-injection

setup:
	@scripts/setup.sh

kafka:
	@scripts/install-kafka.sh >/dev/null

jaeger:
	@scripts/install-jaeger.sh >/dev/null

weaviate:
	@scripts/install-weaviate.sh >/dev/null

demo: setup
	@$(PYTHON) -m conduit demo

test: setup kafka jaeger weaviate
	$(PYTHON) scripts/gen_proto.py --check
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy shared services conduit benchmarks tests
	$(PYTHON) -m pytest

test-unit: setup
	$(PYTHON) -m pytest tests/unit

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy shared services conduit benchmarks tests
	$(PYTHON) scripts/gen_proto.py --check

format: setup
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

proto: setup
	$(PYTHON) scripts/gen_proto.py

openapi: setup
	$(PYTHON) -m services.gateway.openapi

bench: setup kafka jaeger
	$(PYTHON) -m benchmarks.pipeline

bench-retrieval: setup weaviate
	$(PYTHON) -m benchmarks.retrieval

bench-inference: setup kafka
	$(PYTHON) -m benchmarks.inference

bench-injection: setup
	$(PYTHON) -m benchmarks.injection

bench-gateway: setup kafka
	$(PYTHON) -m benchmarks.gateway

soak: setup kafka
	$(PYTHON) -m benchmarks.soak

up: setup kafka
	$(PYTHON) -m conduit up all
