"""`genai-mcp serve`: runs the MCP server (stdio or streamable HTTP).

genai_mcp/cli.py registers `serve` into the `genai-mcp` command; `python -m genai_mcp.server.cli
serve` runs the server alone, without the host's commands (what tests and examples start).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from genai_mcp.server.process import configure_process
from genai_mcp.server.settings import ServerSettings, SettingsError

__all__ = ["add_serve_parser", "build_parser", "main", "run_serve"]


def add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the MCP server",
        description="Run the genai-mcp server. Every flag also reads GENAI_MCP_<NAME> from the environment.",
    )
    p.add_argument(
        "--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP at /mcp"
    )
    p.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8000)")
    p.add_argument(
        "--token-file", type=Path, help="file with one bearer token per line (or GENAI_MCP_TOKENS)"
    )
    p.add_argument(
        "--request-state-key-file",
        type=Path,
        help="file with one request-state key per line, shared by every replica (or GENAI_MCP_REQUEST_STATE_KEYS)",
    )
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
    p.add_argument(
        "--root", action="append", dest="roots", type=Path, help="folder tools may read (repeatable)"
    )
    p.add_argument("--data-dir", type=Path, help="where outputs, adapters and indexes are written")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--allow-downloads", action="store_true", default=None, help="allow Hugging Face hub downloads"
    )
    # The default model of each task: a hub id, a local directory or a house name.
    for flag, what in (
        ("classifier", "image classifier (default house/vit-digits)"),
        ("zero-shot", "CLIP-style zero-shot model (default house/clip-digits)"),
        ("text", "causal LM (default house/gpt2-pydocs)"),
        ("diffusion", "UNet2DModel + scheduler checkpoint (default house/ddpm-digits)"),
        ("latent", "latent-diffusion pipeline (default house/ldm-digits)"),
        ("embedding", "sentence embedder of new RAG collections (default all-MiniLM-L6-v2)"),
        ("reranker", "cross-encoder for RAG searches that name none (default: none)"),
    ):
        p.add_argument(f"--{flag}-model", metavar="MODEL", help=f"default {what}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai-mcp", description="Generative-AI tools over MCP.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until its transport closes; 2 on a settings error."""
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        settings = ServerSettings.load(overrides)
        configure_process(settings)
        if settings.transport == "http":
            from genai_mcp.server.http import serve_http

            serve_http(settings)
        else:
            from genai_mcp.server.app import create_server

            create_server(settings).run("stdio")
    except SettingsError as exc:
        print(f"genai-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m genai_mcp.server.cli serve ...`; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_serve(args)


if __name__ == "__main__":
    sys.exit(main())
