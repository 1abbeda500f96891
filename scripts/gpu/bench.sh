#!/usr/bin/env bash
# `make bench-gpu` on a lent GPU machine that reaches no registry: reassemble the parts that
# scripts/gpu/pack.sh made (staged one per device call into $STAGE), install them beside the
# image's torch, then run benchmarks.inference with the smollm2_gpu model over Kafka.
#
#   scripts/gpu/bench.sh OUT_DIR [benchmark options...]
set -euo pipefail -o pipefail
cd "$(dirname "$0")/../.."
out=$1
shift
stage=${STAGE:-/root/stage}
root=/tmp/conduit-gpu
site=$root/site
mkdir -p "$root" "$out"
log() { echo "[$(date +%T)] $*"; }

if [ ! -f "$root/.installed" ]; then
  log "unpacking $(ls "$stage" | wc -l) parts"
  cat "$stage"/part* | tar -C "$root" -xf -
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$root"/wheels/*.whl
  tar -C "$site" -xJf "$root/pytriton.tar.xz"
  tar -C "$root" -xJf "$root/jre.tar.xz"
  mkdir -p "$root/cache" && tar -C "$root/cache" -xf "$root/kafka.tar"
  # Triton's stub takes its packages from the python3 first on its PATH and needs NumPy 1.x
  # (requirements/triton-stub.txt): a venv holding it, layered over ours and the image's.
  python3 -m venv --without-pip "$root/stub"
  stub_site=$("$root/stub/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$stub_site" "$root"/stub/*.whl
  image_site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
  printf '%s\n%s\n%s\n' "$site" "$PWD" "$image_site" >"$stub_site/conduit-gpu.pth"
  touch "$root/.installed"
fi

export PATH=$root/jre/bin:$PATH
export PYTHONPATH=$site:$PWD
export CONDUIT_CACHE=$root/cache
export PYTHONUNBUFFERED=1
# Eight MiniLM processes share the CPU: one BLAS thread pool each would oversubscribe it.
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log "python $(python3 -V 2>&1), java $(java -version 2>&1 | head -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
bench() {
  python3 -m benchmarks.inference --model smollm2_gpu --stub-python "$root/stub/bin/python3" \
    --output "$out/inference-gpu.json" "$@" 2>&1 | tee -a "$out/bench.log"
}
log "benchmark"
if ! bench "$@" && grep -q TritonStartError "$out/bench.log"; then
  # A tritonserver that cannot place a GPU instance still runs the model on the GPU itself.
  log "GPU instance did not load; again with a CPU instance driving cuda:0"
  bench --instance-kind CPU --device cuda:0 "$@"
fi
log "done"
