"""A real inference engine for the engine tests: `transformers serve` (the `serving` extra of the
pinned transformers) on a free loopback port, serving the house GPT-2 folder, offline.

The model is named by its folder's absolute path (transformers serve pins the FORCE_MODEL argument
as the model name and answers 400 to any other), so ENGINE_MODEL is that path.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from genai_mcp.tools.text.engine import Engine
from tests.helpers.processes import free_port, stop, wait_until_healthy

__all__ = ["ENGINE_MODEL", "RunningEngine", "engine_command", "start_engine", "stop"]

ENGINE_MODEL = str(Path(__file__).resolve().parents[2] / "tools" / "house_models" / "gpt2-pydocs")


@dataclass
class RunningEngine:
    url: str  # base URL, ending in /v1
    process: subprocess.Popen[bytes]
    log_path: Path

    def engine(self, **extra: object) -> Engine:
        """A client Engine for it: the transformers flavor (repetition_penalty as frequency_penalty)."""
        fields: dict[str, object] = {"flavor": "transformers", "timeout_seconds": 30.0, **extra}
        return Engine(url=self.url, model=ENGINE_MODEL, **fields)  # type: ignore[arg-type]


def engine_command(port: int) -> list[str]:
    """The command line the tests start the engine with (the README's worked example, on `port`)."""
    # The console script of the venv this test runs in (sys.executable's folder), not one on PATH.
    command = str(Path(sys.executable).with_name("transformers"))
    return [command, "serve", ENGINE_MODEL, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]


def start_engine(tmp_path: Path) -> RunningEngine:
    """`transformers serve` on 127.0.0.1, returned once /health answers (60 s at most)."""
    port = free_port()
    log_path = tmp_path / f"transformers-serve-{port}.log"
    command = engine_command(port)
    env = {"PATH": str(Path(command[0]).parent), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env["HOME"] = str(tmp_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(proc, base, log_path, timeout=60)
    return RunningEngine(base + "/v1", proc, log_path)
