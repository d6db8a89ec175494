"""The `genai-mcp` command: `serve` (the MCP server) and `host` (drive MCP servers).

Imports stay lazy so `genai-mcp serve` starts as fast as the server alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genai_mcp.client.host_cli import add_host_parser, run_host
from genai_mcp.server.cli import add_serve_parser, run_serve

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-mcp", description="Generative-AI tools over MCP, and a host for them."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub)
    add_host_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "host":
        return run_host(args)
    return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
