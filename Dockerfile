# One image for every conduit service; the service is chosen at run time
# (`python -m services.<name>`), so skaffold builds it once per service name only to tag it.
# Multi-stage: llama-cpp-python compiles in the builder; the runtime is slim and non-root.
# `--target triton` builds Triton Inference Server with the inference service's model
# repository instead (charts/conduit runs it); the last stage, the services' image, is the
# default target.
FROM python:3.11-slim-bookworm AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/ requirements/
RUN python -m venv /opt/conduit \
    && /opt/conduit/bin/pip install --no-cache-dir -r requirements/lock.txt \
    && /opt/conduit/bin/pip install --no-cache-dir --no-deps -r requirements/no-deps.txt \
    && CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" \
       /opt/conduit/bin/pip install --no-cache-dir --no-deps llama-cpp-python==0.3.36
COPY pyproject.toml README.md ./
COPY conduit/ conduit/
COPY shared/ shared/
COPY services/ services/
RUN /opt/conduit/bin/pip install --no-cache-dir --no-deps .

# Triton 25.10 (CUDA 13.0, Python 3.12): the python-backend models import conduit's code from
# their own path (services/inference/triton_models/<model>/1 -> /opt/conduit), and the
# packages that code needs at the lock's pins (the lock stays the one list of versions).
FROM nvcr.io/nvidia/tritonserver:25.10-py3 AS triton
WORKDIR /opt/conduit
COPY requirements/ requirements/
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && grep -iE '^(numpy|gguf|llguidance|diskcache|jinja2|markupsafe|typing.extensions|pydantic|pydantic.core|pydantic.settings|annotated.types|typing.inspection|python.dotenv|cryptography|cffi|pycparser|protobuf|opentelemetry-[a-z-]+|prometheus.client|importlib.metadata|zipp|wrapt|deprecated|googleapis-common-protos|requests|urllib3|idna|certifi|charset.normalizer|safetensors|tokenizers|huggingface.hub|filelock|fsspec|packaging|tqdm|pyyaml)==' \
       requirements/lock.txt > requirements/triton-image.txt \
    && pip install --no-cache-dir --break-system-packages --no-deps \
       -r requirements/triton-image.txt -r requirements/torch.txt -r requirements/no-deps.txt \
    && CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" pip install --no-cache-dir \
       --break-system-packages --no-deps llama-cpp-python==0.3.36 \
    && apt-get purge -y build-essential cmake && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* requirements
COPY shared/ shared/
COPY services/ services/
ENV XDG_CACHE_HOME=/tmp/.cache
USER 1000
ENTRYPOINT ["tritonserver", "--model-repository=/opt/conduit/services/inference/triton_models"]

FROM python:3.11-slim-bookworm AS service
RUN useradd --uid 10001 --create-home conduit && mkdir -p /var/lib/conduit \
    && chown 10001 /var/lib/conduit && apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/conduit /opt/conduit
COPY config/ /app/config/
ENV PATH=/opt/conduit/bin:$PATH \
    CONDUIT_CONFIG_DIR=/app/config \
    CONDUIT_DATA_DIR=/var/lib/conduit \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/.cache
ARG SERVICE=guardrail
ENV CONDUIT_SERVICE=${SERVICE}
USER 10001
WORKDIR /app
ENTRYPOINT ["sh", "-c", "exec conduit up \"$CONDUIT_SERVICE\""]
