"""`genai-mcp host --config FILE COMMAND`: drive MCP servers from a terminal or a script.

Commands: servers | tools | call NAME --args JSON | resources | read URI | prompts | prompt NAME.
Results go to stdout (tables, or JSON with --json); prompts, progress bars and logs go to stderr.

Exit codes:
    0  success
    1  the tool ran and reported an error (is_error)
    2  bad usage or configuration (an unknown server or tool, bad JSON, an invalid config,
       a URI that several servers offer: name one with --server)
    3  a server needed for the command could not connect or died
    4  the server rejected the request (an MCP error such as an unknown resource, or a tool
       error for arguments that break the tool's input schema)
    5  the call did not finish within --timeout

This module only builds the parser, so `genai-mcp serve` does not pay for the host's imports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = [
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_TIMEOUT",
    "EXIT_TOOL_ERROR",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "add_host_parser",
    "run_host",
]

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_REJECTED, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5

_EPILOG = "exit codes:\n" + (__doc__ or "").split("Exit codes:\n", 1)[1].split("\n\n", 1)[0]


def add_host_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "host",
        help="connect to MCP servers from a config file and use them",
        description="Connect to the MCP servers of an mcpServers (or VS Code servers) JSON config and use them.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", required=True, type=Path, help="JSON config (Claude Desktop, Cursor, VS Code format)"
    )
    p.add_argument(
        "--server", action="append", dest="servers", metavar="NAME", help="use only this server (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument(
        "--save-dir", type=Path, default=Path("."), help="where images and blobs are saved (default .)"
    )
    p.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="host and server logs",
    )
    commands = p.add_subparsers(dest="host_command", required=True, metavar="COMMAND")
    commands.add_parser("servers", help="each server's state")
    commands.add_parser("tools", help="list tools as server.tool")
    call = commands.add_parser("call", help="call a tool")
    call.add_argument("name", metavar="NAME", help="server.tool")
    call.add_argument("--args", default="{}", help="arguments as a JSON object (default {})")
    call.add_argument("--timeout", type=float, help="seconds before the call is cancelled")
    call.add_argument(
        "--progress", action="store_true", help="progress bars even when stderr is not a terminal"
    )
    commands.add_parser("resources", help="list resources and resource templates")
    read = commands.add_parser(
        "read", help="read a resource (from the one server that offers it; else name it with --server)"
    )
    read.add_argument("uri", metavar="URI")
    commands.add_parser("prompts", help="list prompts as server.prompt")
    prompt = commands.add_parser("prompt", help="get a prompt's messages")
    prompt.add_argument("name", metavar="NAME", help="server.prompt")
    prompt.add_argument("--args", default="{}", help="arguments as a JSON object of strings")


def run_host(args: argparse.Namespace) -> int:
    """Run one `genai-mcp host` command; returns the exit code (see the module docstring)."""
    from genai_mcp.client.host_commands import run

    return run(args)
