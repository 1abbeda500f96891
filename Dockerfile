# One image for every conduit service; the service is chosen at run time
# (`python -m services.<name>`), so skaffold builds it once per service name only to tag it.
# Multi-stage: llama-cpp-python compiles in the builder; the runtime is slim and non-root.
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

FROM python:3.11-slim-bookworm
RUN useradd --uid 10001 --create-home conduit && mkdir -p /var/lib/conduit \
    && chown 10001 /var/lib/conduit && apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/conduit /opt/conduit
COPY config/ /app/config/
ENV PATH=/opt/conduit/bin:$PATH \
    CONDUIT_CONFIG_DIR=/app/config \
    CONDUIT_DATA_DIR=/var/lib/conduit \
    PYTHONUNBUFFERED=1
ARG SERVICE=guardrail
ENV CONDUIT_SERVICE=${SERVICE}
USER 10001
WORKDIR /app
ENTRYPOINT ["sh", "-c", "exec conduit up \"$CONDUIT_SERVICE\""]
