#!/usr/bin/env bash
# Creates .venv with everything conduit needs; safe to run again (does nothing new).
# llama-cpp-python has no prebuilt wheel: it is compiled once and cached by version and CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CACHE=${CONDUIT_CACHE:-$HOME/.cache/conduit}
LLAMA_CPP_VERSION=0.3.36
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

stamp_inputs=$(cat requirements/*.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
stamp="$VENV/.conduit-installed-$stamp_inputs"
if [ -f "$stamp" ]; then
  exit 0
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
echo "setup: installing Python dependencies into $VENV"
$PIP install -r requirements/lock.txt
$PIP install --no-deps -r requirements/no-deps.txt

# ggml's AMX kernels (Sapphire Rapids and later) crash the first decode of our Q4_1 SmolLM2
# (segfault in ggml_backend_amx_mul_mat, llama.cpp issue 20824), so they are compiled out;
# AVX-512 and VNNI stay.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake_args="-DLLAVA_BUILD=OFF -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'"
# The build optimises for this CPU, so the cache key carries the CPU's feature flags and
# the build's arguments; pip's own wheel cache would ignore both.
cpu_key=$( (grep -m1 '^flags' /proc/cpuinfo; echo "$cmake_args") | sha256sum | cut -c1-12)
wheel_dir="$CACHE/wheels/llama-cpp-python-$LLAMA_CPP_VERSION-$cpu_key"
if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "setup: compiling llama-cpp-python $LLAMA_CPP_VERSION (a few minutes, cached afterwards)"
  mkdir -p "$wheel_dir"
  CMAKE_ARGS="$cmake_args" $PIP wheel --no-cache-dir --no-deps \
    "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$wheel_dir"
fi
$PIP install --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-*.whl
$PIP install --no-deps --no-build-isolation -e .

# Triton's python-backend stub needs NumPy 1.x (requirements/triton-stub.txt says why): a
# pip-less venv on the same base Python holds it and reads everything else from this one.
stub_venv="$VENV/triton-stub"
rm -rf "$stub_venv"
"$VENV/bin/python" -m venv --without-pip "$stub_venv"
stub_site=$("$stub_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
main_site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
$PIP install --no-deps --target "$stub_site" -r requirements/triton-stub.txt
echo "import site; site.addsitedir('$main_site')" >"$stub_site/conduit-main-venv.pth"

rm -f "$VENV"/.conduit-installed-*
touch "$stamp"
echo "setup: done"
