"""The README's curl session must work exactly as printed (only the port differs)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.helpers.processes import TOKEN, HttpServer

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_curl_session(http_server: HttpServer) -> None:
    block = re.search(r"A session by hand with curl.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert block, "README lost its curl section"
    script = block.group(1).replace("http://127.0.0.1:8000", http_server.url)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": "/usr/bin:/bin", "GENAI_MCP_TOKENS": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    data = [
        json.loads(line[len("data: ") :]) for line in out.stdout.splitlines() if line.startswith("data: {")
    ]
    assert data, out.stdout
    result = data[-1]["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["mean_at_k"][0]["precision"] == 0.5
