import subprocess
import sys

from shared.config import repo_root


def test_generated_protobuf_code_matches_the_proto_files() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--check"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"stale generated code, run `make proto`: {result.stderr}"
