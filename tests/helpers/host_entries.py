"""Server entries for the host's config in tests: the callbacks test server and `genai-mcp serve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.helpers.processes import serve_command, server_env

__all__ = ["CALLBACKS_SERVER", "callbacks_entry", "genai_stdio_entry"]

CALLBACKS_SERVER = Path(__file__).parents[1] / "client" / "servers" / "callbacks_server.py"


def callbacks_entry(name: str = "callbacks-test", **extra: Any) -> dict[str, Any]:
    """A config entry that starts tests/client/servers/callbacks_server.py over stdio."""
    return {"command": sys.executable, "args": [str(CALLBACKS_SERVER), "--name", name], **extra}


def genai_stdio_entry(data_dir: Path, **extra: Any) -> dict[str, Any]:
    """A config entry that starts `genai-mcp serve` over stdio; `data_dir` also marks its command line."""
    command = serve_command("--data-dir", str(data_dir))
    return {"command": command[0], "args": command[1:], "env": server_env(data_dir), **extra}
