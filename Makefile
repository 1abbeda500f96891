# The verbs of conduit. Everything installs itself: a fresh clone needs only these.
PYTHON := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup torch demo test eval-answers eval-routes test-unit test-kafka lint format proto bench bench-retrieval bench-inference bench-gpu bench-engine soak up kafka jaeger weaviate redis openapi bench-gateway bench-injection postgres bench-memory bench-tools mcp-tools helm

setup:
	@scripts/setup.sh

# PyTorch (the CUDA build, ~4 GB) for the batched GPU engine: tests and GPU benchmarks only.
torch: setup
	@$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps -r requirements/torch.txt

kafka:
	@scripts/install-kafka.sh >/dev/null

jaeger:
	@scripts/install-jaeger.sh >/dev/null

weaviate:
	@scripts/install-weaviate.sh >/dev/null

# Debian's redis-server (shared gateway limits); installs the package when missing (root).
redis:
	@scripts/install-redis.sh >/dev/null

# Debian's postgresql (memory store tests); installs the package when missing (root).
postgres:
	@scripts/install-postgres.sh >/dev/null

# Helm v3, built from the Go module proxy (tests/chart render and lint charts/conduit).
helm:
	@scripts/install-helm.sh >/dev/null

demo: setup
	@$(PYTHON) -m conduit demo

test: setup torch kafka jaeger weaviate redis postgres helm
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

bench: setup kafka
	$(PYTHON) -m benchmarks.pipeline

bench-retrieval: setup weaviate
	$(PYTHON) -m benchmarks.retrieval

bench-inference: setup kafka
	$(PYTHON) -m benchmarks.checked_stream
	$(PYTHON) -m benchmarks.inference

# On a machine with an NVIDIA GPU (scripts/gpu/ packs and runs it where no registry is reachable).
bench-gpu: setup torch kafka
	$(PYTHON) -m benchmarks.inference --model smollm2_gpu --concurrency 1 8 32 128 --rounds 3 \
	  --replicas intent=4 retrieval=4 guardrail=2 prompt-builder=2 \
	  --output bench/results/inference-gpu.json

# Every conversation of the answers evaluation set (tests/model/answers), the real local
# model, the strict judge: figures per workflow and outcome in
# bench/results/answers-embedded.json; exits 1 when a wrong answer was delivered or fewer
# than 95% were answered.
eval-answers: setup
	$(PYTHON) -m benchmarks.model_quality --check

# The router on its tuning and held-out test sets, with the second stage measured on the
# local model and behind the OpenAI-compatible backend (a real llama.cpp server).
ROUTES := bench/results/routes
eval-routes: setup
	$(PYTHON) -m conduit eval routes tests/data/routes/tuning.yaml --second-stage --chart $(ROUTES)-tuning.png --json $(ROUTES)-tuning.json
	$(PYTHON) -m conduit eval routes tests/data/routes/test.yaml --second-stage --chart $(ROUTES)-test.png --json $(ROUTES)-test.json
	$(PYTHON) -m benchmarks.route_second_stage tests/data/routes/tuning.yaml --json $(ROUTES)-openai-tuning.json
	$(PYTHON) -m benchmarks.route_second_stage tests/data/routes/test.yaml --json $(ROUTES)-openai-test.json

bench-engine: setup torch
	$(PYTHON) -m benchmarks.batching_engine

# Latency each tool kind adds (python, http, mcp stdio, mcp streamable HTTP).
bench-tools: setup
	$(PYTHON) -m benchmarks.tools

# Rewrites config/mcp_tools.yaml from the MCP servers of config/mcp_servers.yaml.
mcp-tools: setup
	$(PYTHON) -m services.tool_executor.mcp_listing config

bench-injection: setup
	$(PYTHON) -m benchmarks.injection

bench-gateway: setup kafka
	$(PYTHON) -m benchmarks.gateway

bench-memory: setup redis postgres
	$(PYTHON) -m benchmarks.memory

soak: setup kafka
	$(PYTHON) -m benchmarks.soak

up: setup kafka
	$(PYTHON) -m conduit up all
