"""The llama.cpp that `scripts/setup.sh` builds carries no AMX kernels: on Sapphire Rapids
and later they crash the first decode of the shipped SmolLM2 (a segfault in
`ggml_backend_amx_mul_mat`), which takes the test run down with it."""

from __future__ import annotations

import llama_cpp


def test_the_installed_llama_cpp_is_built_without_amx_kernels() -> None:
    features = llama_cpp.llama_print_system_info().decode()
    assert "AMX" not in features, (
        f"llama.cpp was built with AMX kernels ({features.strip()}); "
        "rerun scripts/setup.sh, which compiles them out"
    )
