"""Where a stdio server's stderr goes: to its log file when the host shows the server's MCP log
messages (so each record reads once), to the host's stderr otherwise; a crash names the file."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from genai_mcp.client import ConfigError, Host, ServerState, ServerUnavailableError
from genai_mcp.client.config import load_config
from genai_mcp.client.host_cli import EXIT_OK, EXIT_UNAVAILABLE
from tests.helpers.checkpoints import make_tiny_pipeline
from tests.helpers.host_entries import callbacks_entry, genai_stdio_entry


def _host(tmp_path: Path, config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`genai-mcp host` in a process of its own, as at a terminal: its logging reaches its stderr."""
    script = Path(sys.executable).with_name("genai-mcp")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(script), "host", "--config", str(config), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,  # where `call` saves the images it gets
    )


CRASH = "import sys; print('RuntimeError: no weights in /nowhere', file=sys.stderr); sys.exit(1)"


@pytest.mark.parametrize(
    ("extra", "shown", "to_file"),
    [
        ({"log_level": "info"}, 1, True),  # asked for MCP logs: stderr goes to the file
        ({"log_level": "info", "stderr": "inherit"}, 2, False),  # asked to inherit: as before
        ({}, 2, False),  # no log_level configured: stderr stays the place its logs appear
    ],
)
def test_a_servers_warning_reads_once_when_its_stderr_goes_to_its_file(
    tmp_path: Path,
    extra: dict[str, Any],
    shown: int,
    to_file: bool,
) -> None:
    from genai_mcp.tools.house.digits import digit_images

    model = make_tiny_pipeline(tmp_path / "rgb", channels=3, size=12, train_timesteps=1000)
    png = io.BytesIO()
    digit_images("test")[0][0].save(png, format="PNG")
    image = base64.b64encode(png.getvalue()).decode()
    config = tmp_path / "mcp.json"
    servers = {"local": genai_stdio_entry(tmp_path / "data", **extra)}
    config.write_text(json.dumps({"mcpServers": servers}))
    args = {"image": image, "timestep": 499, "steps": 25, "seed": 0, "model": model}

    done = _host(tmp_path, config, "call", "local.denoise_image", "--args", json.dumps(args))

    err = done.stderr
    assert done.returncode == EXIT_OK, done.stdout + err
    assert (done.stdout + err).count("timestep 499 snapped to") == shown, err
    log = tmp_path / "state" / "genai-mcp" / "servers" / "local.log"
    assert log.exists() is to_file
    if to_file:
        assert log.read_text().count("timestep 499 snapped to") == 1
        assert "[local] genai_mcp.tools.diffusion.sampling: timestep 499 snapped to" in err


def test_a_server_that_crashes_at_start_is_reported_with_its_log_file_and_last_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    entry = {"command": sys.executable, "args": ["-c", CRASH], "log_level": "warning"}
    log = tmp_path / "logs" / "crashy.log"

    async def main_() -> None:
        async with Host.from_config({"mcpServers": {"crashy": entry}}, log_dir=tmp_path / "logs") as host:
            status = host.servers["crashy"]
            assert status.state is ServerState.FAILED
            assert status.error is not None and status.error.endswith(f"; its stderr is in {log}")
            assert status.stderr_log == log
            assert status.stderr_tail == ("RuntimeError: no weights in /nowhere",)

    anyio.run(main_)
    assert "RuntimeError: no weights in /nowhere" in log.read_text()
    assert "no weights" not in capfd.readouterr().err  # only in the file, and in the status

    # The command line says it once: the reason, the file, and the file's last lines.
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"crashy": entry}}))
    done = _host(tmp_path, config, "tools")
    err = done.stderr
    assert done.returncode == EXIT_UNAVAILABLE, err
    cli_log = tmp_path / "state" / "genai-mcp" / "servers" / "crashy.log"
    assert "server 'crashy' could not connect: " in err and f"its stderr is in {cli_log}" in err
    assert err.count("RuntimeError: no weights in /nowhere") == 1
    assert "it ended with:\n    RuntimeError: no weights in /nowhere" in err


def test_stderr_defaults_to_file_once_log_level_is_set_and_http_servers_ignore_it() -> None:
    config = load_config(
        {
            "mcpServers": {
                "quiet": {"command": "srv"},
                "logged": {"command": "srv", "log_level": "warning"},
                "kept": {"command": "srv", "log_level": "warning", "stderr": "inherit"},
                "remote": {"url": "http://127.0.0.1:1/mcp"},
            },
            "defaults": {"stderr": "file"},
        }
    )
    modes = {name: server.stderr_mode for name, server in config.servers.items()}
    assert modes == {"quiet": "file", "logged": "file", "kept": "inherit", "remote": "file"}
    plain = load_config(
        {"mcpServers": {"a": {"command": "srv"}, "b": {"command": "srv", "log_level": "info"}}}
    )
    assert [s.stderr_mode for s in plain.servers.values()] == ["inherit", "file"]
    with pytest.raises(ConfigError, match=r"mcpServers\.a\.stderr"):
        load_config({"mcpServers": {"a": {"command": "srv", "stderr": "pipe"}}})


def test_a_server_that_dies_during_a_call_names_its_stderr_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "cb.log"

    async def main_() -> None:
        config = {"mcpServers": {"cb": callbacks_entry(stderr="file")}}
        async with Host.from_config(config, log_dir=tmp_path / "logs") as host:
            assert host.servers["cb"].state is ServerState.CONNECTED
            with pytest.raises(ServerUnavailableError, match=re.escape(f"its stderr is in {log}")):
                await host.call_tool("cb.crash", {})
            dead = host.servers["cb"]
            assert dead.state is ServerState.DEAD and dead.stderr_log == log
            assert (await host.call_tool("cb.echo", {"text": "back"})).structured_content is not None

    anyio.run(main_)
    assert log.read_text().count("host starts") == 2  # appended to on each start: the crash is kept
