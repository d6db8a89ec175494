"""The `genai-mcp` command: `serve` runs the MCP server (stdio or streamable HTTP)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.server.settings import ServerSettings, SettingsError

__all__ = ["build_parser", "main"]


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the MCP server",
        description="Run the genai-mcp server. Every flag also reads GENAI_MCP_<NAME> from the environment.",
    )
    p.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP at /mcp")
    p.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8000)")
    p.add_argument("--token-file", type=Path, help="file with one bearer token per line (or GENAI_MCP_TOKENS)")
    p.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        default=None,
        help="allow HTTP on a non-loopback address without a token (dangerous)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        help="extra accepted Host header, e.g. mcp.example.org:* (repeatable)",
    )
    p.add_argument("--allowed-origin", action="append", dest="allowed_origins", help="extra accepted Origin")
    p.add_argument("--public-url", help="base URL clients use (default http://HOST:PORT)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    p.add_argument("--root", action="append", dest="roots", type=Path, help="folder tools may read (repeatable)")
    p.add_argument("--data-dir", type=Path, help="where outputs, adapters and indexes are written")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--allow-downloads", action="store_true", default=None, help="allow Hugging Face hub downloads")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai-mcp", description="Generative-AI tools over MCP.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    overrides = {
        k: v
        for k, v in vars(args).items()
        if k not in ("command",) and v is not None
    }
    settings = ServerSettings.load(overrides)
    if settings.transport == "http":
        from genai_mcp.server.http import serve_http

        serve_http(settings)
    else:
        from genai_mcp.server.app import create_server

        create_server(settings).run("stdio")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
    except SettingsError as exc:
        print(f"genai-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
