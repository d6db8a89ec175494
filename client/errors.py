"""The errors a user of the host can meet, as one family.

    HostError                    base: an expected failure whose message says what to fix
    ├── ConfigError              the configuration is invalid; the message names the key path
    ├── UnknownNameError         a name does not route: no such server or tool, or no server lists that URI
    │   └── AmbiguousNameError   several servers offer that URI; `servers` names them
    ├── ServerUnavailableError   the server failed to start, died, or was disconnected
    └── CallTimeoutError         a call did not finish within its timeout (also a TimeoutError)

A tool that runs and fails is not an exception: `call_tool` returns its result with
`is_error=True`. A server that rejects a request outright (unknown resource, bad prompt
arguments) raises the SDK's `mcp.MCPError`, which the host passes through unchanged.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousNameError",
    "CallTimeoutError",
    "ConfigError",
    "HostError",
    "ServerUnavailableError",
    "UnknownNameError",
]


class HostError(Exception):
    """An expected failure of the host; its message is meant for the user."""


class ConfigError(HostError, ValueError):
    """The host configuration is invalid; the message names the file and key path."""


class UnknownNameError(HostError, LookupError):
    """A qualified name or URI that no configured server answers to."""


class AmbiguousNameError(UnknownNameError):
    """A URI that several connected servers offer (e.g. models://list); the caller must name one."""

    def __init__(self, message: str, servers: list[str]):
        super().__init__(message)
        self.servers = servers


class ServerUnavailableError(HostError):
    """The server cannot take calls now: it failed to start, died, or was disconnected."""

    def __init__(self, server: str, message: str):
        super().__init__(message)
        self.server = server


class CallTimeoutError(HostError, TimeoutError):
    """A call did not finish in time; the server was asked to cancel it."""
