"""genai-mcp through a third-party client: the official TypeScript SDK (@modelcontextprotocol/sdk,
pinned in ts_client/package-lock.json), over stdio and over streamable HTTP with a bearer token.

ts_client/check.mjs drives the real client and prints what it saw as JSON; this module installs it
(`npm ci` into ts_client/node_modules, kept between runs while it matches the lock file), starts
the server, runs the script and asserts on its record. Node 20+ and npm are needed (CI has them):
without them the tests fail saying so, they are not skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from genai_mcp.server.app import build_server
from genai_mcp.server.prompts import PROMPTS
from genai_mcp.server.settings import ServerSettings
from tests.helpers.images import b64, encode
from tests.helpers.npm import locked_install
from tests.helpers.processes import TOKEN, HttpServer, serve_command, server_env

pytestmark = pytest.mark.slow

TS_CLIENT = Path(__file__).parent / "ts_client"
ERROR_AND_ABOVE = {"error", "critical", "alert", "emergency"}
BLACK_PNG = b64(encode(Image.new("RGB", (16, 16))))


@pytest.fixture(scope="module")
def ts_client() -> Path:
    """ts_client/ with exactly the locked packages in its node_modules (npm ci unless already so)."""
    return locked_install(TS_CLIENT)


def run_node(ts_client: Path, *target: str, env: dict[str, str]) -> tuple[dict[str, Any], int, str]:
    """check.mjs against `target`: its JSON record, exit status and stderr (a stdio server's too)."""
    done = subprocess.run(
        ["node", "check.mjs", *target],
        cwd=ts_client,
        env={**env, "CHECK_IMAGE": BLACK_PNG},
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"check.mjs printed nothing (exit {done.returncode}); stderr:\n{done.stderr}"
    return json.loads(lines[-1]), done.returncode, done.stderr


def run_check(ts_client: Path, *target: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """What check.mjs saw against `target`, having run to the end, and its stderr."""
    seen, code, stderr = run_node(ts_client, *target, env=env)
    assert "error" not in seen and code == 0, f"{seen.get('error')}\nstderr:\n{stderr}"
    return seen, stderr


def assert_seen(seen: dict[str, Any]) -> None:
    assert seen["protocolVersion"] == "2025-11-25"  # the SDK's newest; the server speaks it
    assert {"logging", "prompts", "completions", "tools", "resources"} <= set(seen["capabilities"])
    assert set(seen["tools"]) == set(build_server(ServerSettings())[1].specs)  # every tool the server has

    # logging/setLevel info: the model load is reported while classify_image runs, before its result.
    assert seen["setLevelInfo"] == {} and seen["setLevelError"] == {}
    events = seen["events"]
    info = [e for e in events if e["phase"] == "info"]
    assert [e["event"] for e in info if e["event"] != "log"] == ["call", "result"], info
    result_at = next(i for i, e in enumerate(info) if e["event"] == "result")
    loads = [
        i
        for i, e in enumerate(info)
        if e["event"] == "log"
        and e["level"] == "info"
        and e["logger"] == "genai_mcp.tools.models.cache"
        and "loaded house/vit-digits" in e["data"]["message"]
    ]
    assert loads and loads[0] < result_at, info
    assert not seen["classify"]["isError"]
    classified = seen["classify"]["structuredContent"]
    assert classified["model"] == "house/vit-digits" and classified["results"][0]["labels"], classified

    # logging/setLevel error: from then on, nothing below error (the CLIP load included).
    assert not seen["zeroShot"]["isError"]
    zero_shot = seen["zeroShot"]["structuredContent"]
    assert zero_shot["model"] == "house/clip-digits"
    assert [s["label"] for s in zero_shot["results"][0]["scores"]] == ["zero", "one"], zero_shot
    after = [e for e in events if e["event"] == "log" and e["phase"] not in ("connect", "tools", "info")]
    assert [e for e in after if e["level"] not in ERROR_AND_ABOVE] == [], after

    assert seen["misspelled"]["isError"]
    assert "unknown argument 'topk'; did you mean 'top_k'?" in seen["misspelled"]["text"]

    assert seen["prompts"] == [spec.name for spec in PROMPTS]
    (message,) = seen["prompt"]
    assert message["role"] == "user" and message["type"] == "text"
    assert '`text_metrics` with {"candidates": ["the cat sat on the mat"]' in message["text"]

    completion = seen["completion"]
    assert "house/vit-digits" in completion["values"], completion
    assert all(v.startswith("house/") for v in completion["values"]) and completion["total"] >= 1

    assert "models://list" in seen["resources"]


def test_typescript_client_over_stdio(ts_client: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = serve_command("--data-dir", str(data), "--log-level", "INFO")
    seen, stderr = run_check(ts_client, "stdio", *command, env=server_env(data))
    assert seen["transport"] == "stdio"
    assert_seen(seen)
    # The CLIP load the client was not sent happened: the server logged it to its stderr.
    assert "loaded house/clip-digits" in stderr, stderr


def test_typescript_client_over_http_with_a_bearer_token(ts_client: Path, http_server: HttpServer) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    seen, _ = run_check(ts_client, "http", http_server.mcp_url, env={**env, "MCP_TOKEN": TOKEN})
    assert seen["transport"] == "http" and seen["sessionId"]
    assert_seen(seen)
    log = http_server.log_path.read_text()
    assert "loaded house/clip-digits" in log
    assert '"DELETE /mcp HTTP/1.1" 200' in log, log  # the client ended its session

    refused, code, _ = run_node(
        ts_client, "http", http_server.mcp_url, env={**env, "MCP_TOKEN": "not-" + TOKEN}
    )
    assert code == 1 and "invalid_token" in refused["error"], refused
