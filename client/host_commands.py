"""The work behind `genai-mcp host ...` (see host_cli for the commands and exit codes)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from typing import Any

import anyio
from mcp import MCPError
from pydantic import BaseModel
from rich.console import Console

from genai_mcp.client import render
from genai_mcp.client.config import HostConfig, load_config
from genai_mcp.client.connection import ServerState
from genai_mcp.client.errors import CallTimeoutError, ConfigError, ServerUnavailableError, UnknownNameError
from genai_mcp.client.host import Host
from genai_mcp.client.host_cli import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_TOOL_ERROR,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from genai_mcp.client.progress import ProgressBars
from genai_mcp.client.terminal import Terminal

__all__ = ["run"]


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--args is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise ConfigError('--args must be a JSON object, e.g. \'{"text": "hi"}\'')
    return value


def _selected(args: argparse.Namespace, config: HostConfig) -> list[str] | None:
    """The servers to start: --server, else the one a call names, else all."""
    if args.servers:
        return list(args.servers)
    if args.host_command in ("call", "prompt"):  # one server answers; don't start the others
        server = args.name.partition(".")[0]
        if server not in config.servers:
            raise UnknownNameError(
                f"{args.name!r} names no configured server (configured: {', '.join(config.servers)})"
            )
        return [server]
    return None


def _dump(model: BaseModel, **extra: Any) -> dict[str, Any]:
    return {**model.model_dump(mode="json", by_alias=True, exclude_none=True), **extra}


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


async def _listing(args: argparse.Namespace, host: Host, out: Console) -> None:
    cmd = args.host_command
    if cmd == "servers":
        rows = [{**vars(s), "state": str(s.state)} for s in host.servers.values()]
        _print_json(rows) if args.json else render.print_structured(out, rows)
    elif cmd == "tools":
        tools = await host.list_tools()
        if args.json:
            _print_json([_dump(t.tool, name=t.name, server=t.server) for t in tools])
        else:
            render.print_tools(out, tools)
    elif cmd == "prompts":
        prompts = await host.list_prompts()
        if args.json:
            _print_json([_dump(p.prompt, name=p.name, server=p.server) for p in prompts])
        else:
            render.print_prompts(out, prompts)
    else:
        resources, templates = await host.list_resources(), await host.list_resource_templates()
        if args.json:
            dump = [_dump(r.resource, server=r.server) for r in resources]
            _print_json(dump + [_dump(t.template, server=t.server) for t in templates])
        else:
            render.print_resources(out, resources, templates)


async def _call(args: argparse.Namespace, host: Host, out: Console) -> int:
    arguments = args.arguments
    stem = args.name.replace(".", "-")
    bars = ProgressBars(transient=True) if args.progress or sys.stderr.isatty() else None
    with bars or contextlib.nullcontext():
        progress = bars.track(args.name) if bars else None
        result = await host.call_tool(args.name, arguments, timeout=args.timeout, progress=progress)
    if args.json:
        _print_json(render.call_result_json(result, args.save_dir, stem))
    else:
        render.print_call_result(out, result, args.save_dir, stem)
    return EXIT_TOOL_ERROR if result.is_error else EXIT_OK


async def _command(args: argparse.Namespace, host: Host, out: Console) -> int:
    down = [s for s in host.servers.values() if s.state is not ServerState.CONNECTED]
    for status in down:
        print(f"genai-mcp host: server {status.name!r} is {status.state}: {status.error}", file=sys.stderr)
    cmd = args.host_command
    if cmd in ("servers", "tools", "prompts", "resources"):
        await _listing(args, host, out)
        # Partial listings still print; the exit code tells a script that some server was missing.
        return EXIT_UNAVAILABLE if down else EXIT_OK
    if cmd == "read":
        only = args.servers[0] if args.servers and len(args.servers) == 1 else None
        read = await host.read_resource(args.uri, server=only)
        if args.json:
            _print_json(_dump(read))
        else:
            render.print_resource(out, read, args.save_dir, args.uri.rstrip("/").rsplit("/", 1)[-1])
        return EXIT_OK
    if cmd == "prompt":
        got = await host.get_prompt(args.name, {k: str(v) for k, v in args.arguments.items()})
        _print_json(_dump(got)) if args.json else render.print_prompt(out, got)
        return EXIT_OK
    return await _call(args, host, out)


async def _run(args: argparse.Namespace, config: HostConfig) -> int:
    out = Console(soft_wrap=True)  # paths and texts stay on one line, whatever the width
    try:
        # Usage errors surface before any server starts.
        args.arguments = _json_object(args.args) if hasattr(args, "args") else {}
        selected = _selected(args, config)
        async with Host(config, servers=selected, terminal=Terminal(sys.stdin, sys.stderr)) as host:
            return await _command(args, host, out)
    except (ConfigError, UnknownNameError) as exc:
        code, message = EXIT_USAGE, str(exc)
    except ServerUnavailableError as exc:
        code, message = EXIT_UNAVAILABLE, str(exc)
    except CallTimeoutError as exc:
        code, message = EXIT_TIMEOUT, str(exc)
    except MCPError as exc:
        code, message = (
            EXIT_REJECTED,
            f"the server rejected the request: {exc.message} (MCP error {exc.code})",
        )
    print(f"genai-mcp host: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"genai-mcp host: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return anyio.run(_run, args, config)
    except KeyboardInterrupt:
        return 130
