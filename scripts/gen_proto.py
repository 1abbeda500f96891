"""Generate Python code from proto/ into shared/contracts/_generated (`make proto`).

`--check` regenerates into a temporary directory and exits non-zero when the committed
code differs, so a stale checkout fails CI.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUTPUT = ROOT / "shared" / "contracts" / "_generated"
PACKAGE_PREFIX = "shared.contracts._generated"
_IMPORT = re.compile(r"^from conduit\.", re.MULTILINE)


def generate(output: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    output.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={output}",
        f"--pyi_out={output}",
        f"--grpc_python_out={output}",
        *protos,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    for generated in (*output.rglob("*.py"), *output.rglob("*.pyi")):
        # protoc writes absolute imports rooted at the proto path; re-root them in our package.
        text = _IMPORT.sub(f"from {PACKAGE_PREFIX}.conduit.", generated.read_text())
        generated.write_text(text)
    for package in {p.parent for p in output.rglob("*.py")} | {output}:
        (package / "__init__.py").touch()


def differences(expected: Path, actual: Path) -> list[str]:
    expected_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    actual_files = {
        p.relative_to(actual)
        for p in actual.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    changed = [
        str(f)
        for f in expected_files & actual_files
        if not filecmp.cmp(expected / f, actual / f, shallow=False)
    ]
    return sorted(changed + [str(f) for f in expected_files ^ actual_files])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    if not parser.parse_args().check:
        generate(OUTPUT)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = differences(Path(tmp), OUTPUT)
    if stale:
        sys.exit(f"generated code is stale, run `make proto`: {', '.join(stale)}")


if __name__ == "__main__":
    main()
