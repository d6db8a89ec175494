"""The `genai-mcp` command: `serve` (the MCP server), `worker` (a fine-tuning worker) and `host ...`
(drive MCP servers).

Each room registers its own subcommand: server/cli.py adds `serve`, server/worker_cli.py `worker`,
client/host_cli.py `host`. Each only builds its parser at import, so `genai-mcp serve` starts as
fast as the server alone and never imports the host. `python -m genai_mcp.server.cli serve` is the server without the host.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genai_mcp.client.host_cli import add_host_parser, run_host
from genai_mcp.server.cli import add_serve_parser, run_serve
from genai_mcp.server.worker_cli import add_worker_parser, run_worker

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-mcp", description="Generative-AI tools over MCP, and a host for them."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub)
    add_worker_parser(sub)
    add_host_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `genai-mcp` command; returns its exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "worker":
        return run_worker(args)
    if args.command == "host":
        return run_host(args)
    return 2


def run() -> None:
    """Console-script entry point (pyproject.toml's [project.scripts])."""
    sys.exit(main())


if __name__ == "__main__":
    run()
