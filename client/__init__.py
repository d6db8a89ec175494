"""genai-mcp host: connects to many MCP servers and answers their requests.

    from genai_mcp.client import Host, ProgressBars

    async with Host.from_config({"mcpServers": {...}}) as host:
        tools = await host.list_tools()
        with ProgressBars() as bars:
            result = await host.call_tool("genai.text_metrics", {...}, progress=bars.track("metrics"))

Names are imported on first use, so `genai-mcp serve` (whose command also builds the `host`
parser from this package) does not pay for the host's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_mcp.client.catalog import HostPrompt, HostResource, HostResourceTemplate, HostTool
    from genai_mcp.client.config import (
        ElicitationConfig,
        HostConfig,
        SamplingConfig,
        ServerConfig,
        load_config,
    )
    from genai_mcp.client.connection import ServerState, ServerStatus
    from genai_mcp.client.errors import (
        AmbiguousNameError,
        CallTimeoutError,
        ConfigError,
        HostError,
        ServerUnavailableError,
        UnknownNameError,
    )
    from genai_mcp.client.host import Host
    from genai_mcp.client.progress import ProgressBars
    from genai_mcp.client.sampling import SamplingApprover
    from genai_mcp.client.terminal import Terminal

_EXPORTS = {
    "AmbiguousNameError": "errors",
    "CallTimeoutError": "errors",
    "ConfigError": "errors",
    "ElicitationConfig": "config",
    "Host": "host",
    "HostConfig": "config",
    "HostError": "errors",
    "HostPrompt": "catalog",
    "HostResource": "catalog",
    "HostResourceTemplate": "catalog",
    "HostTool": "catalog",
    "ProgressBars": "progress",
    "SamplingApprover": "sampling",
    "SamplingConfig": "config",
    "ServerConfig": "config",
    "ServerState": "connection",
    "ServerStatus": "connection",
    "ServerUnavailableError": "errors",
    "Terminal": "terminal",
    "UnknownNameError": "errors",
    "load_config": "config",
}

__all__ = [
    "AmbiguousNameError",
    "CallTimeoutError",
    "ConfigError",
    "ElicitationConfig",
    "Host",
    "HostConfig",
    "HostError",
    "HostPrompt",
    "HostResource",
    "HostResourceTemplate",
    "HostTool",
    "ProgressBars",
    "SamplingApprover",
    "SamplingConfig",
    "ServerConfig",
    "ServerState",
    "ServerStatus",
    "ServerUnavailableError",
    "Terminal",
    "UnknownNameError",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
