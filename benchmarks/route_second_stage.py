"""The router's second stage behind the OpenAI-compatible backend: a real llama.cpp server
(`llama_cpp.server`, started here on loopback) serves the model, and `conduit eval routes
--second-stage` asks it about the messages the classifier is least sure of.

Run: `python -m benchmarks.route_second_stage FILE --json OUT` (`make eval-routes` does).
The only instruct model a package ships here is SmolLM2-135M, so this shows the path
works end to end; point a models file at a stronger endpoint to measure one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import yaml

from conduit.cli import main as conduit_main
from shared.testing import LlamaServer

MODEL_NAME = "smollm2-openai"


def models_file(directory: Path, server: LlamaServer) -> Path:
    path = directory / "models.yaml"
    spec = {
        "backend": "openai",
        "url": server.base_url,
        "model": server.model_alias,
        "schema_format": "json_object",  # what llama-cpp-python's server enforces
    }
    path.write_text(
        yaml.safe_dump(
            {"models": {MODEL_NAME: spec}, "routes": [{"name": "default", "model": MODEL_NAME}]}
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--chart", type=Path, default=None)
    args = parser.parse_args()
    with LlamaServer() as server, tempfile.TemporaryDirectory() as directory:
        os.environ["CONDUIT_INFERENCE_MODELS_FILE"] = str(models_file(Path(directory), server))
        chart = args.chart or Path(directory) / "routes.png"
        conduit_main(
            ["eval", "routes", str(args.file), "--second-stage", "--json", str(args.json),
             "--chart", str(chart)]
        )  # fmt: skip


if __name__ == "__main__":
    main()
