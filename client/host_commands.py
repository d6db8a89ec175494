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
from genai_mcp.client.connection import ServerState, ServerStatus
from genai_mcp.client.errors import (
    AmbiguousNameError,
    CallTimeoutError,
    ConfigError,
    ServerUnavailableError,
    UnknownNameError,
)
from genai_mcp.client.host import Host, stderr_tail
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


class _Reporter:
    """Says on stderr, once per server, why it could not connect or died.

    The host also logs these changes (warnings on the `genai_mcp.client` logger); while a command runs
    those records are dropped, so each problem reaches the user once, in this command's words.
    """

    def __init__(self) -> None:
        self.told: set[str] = set()

    def status(self, status: ServerStatus) -> None:
        if status.state in (ServerState.FAILED, ServerState.DEAD) and status.name not in self.told:
            self.told.add(status.name)
            what = "could not connect" if status.state is ServerState.FAILED else "died"
            tail = stderr_tail(status)
            print(f"genai-mcp host: server {status.name!r} {what}: {status.error}{tail}", file=sys.stderr)

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "server_status", None)
        return not (
            isinstance(status, ServerStatus) and status.state in (ServerState.FAILED, ServerState.DEAD)
        )


def _misfits(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """How `arguments` break the tool's input schema (empty when they fit or it cannot be checked):
    what the schema says, and a name it does not list (servers refuse those without the schema
    saying additionalProperties: false)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    listed = schema.get("properties")
    unlisted = [
        f"unknown argument {name!r}" for name in arguments if isinstance(listed, dict) and name not in listed
    ]
    try:
        validator = validator_for(schema)(schema)
        return unlisted + [error.message for error in validator.iter_errors(arguments)]
    except SchemaError:
        return unlisted


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
    tool = await host.find_tool(args.name)  # an unknown tool is a usage error, not the tool's
    stem = args.name.replace(".", "-")
    bars = ProgressBars(transient=True) if args.progress or sys.stderr.isatty() else None
    with bars or contextlib.nullcontext():
        progress = bars.track(args.name) if bars else None
        result = await host.call_tool(args.name, arguments, timeout=args.timeout, progress=progress)
    if args.json:
        _print_json(render.call_result_json(result, args.save_dir, stem))
    else:
        render.print_call_result(out, result, args.save_dir, stem)
    if not result.is_error:
        return EXIT_OK
    # MCP reports arguments a tool refuses as a tool error (so a model can correct itself); for a
    # script, arguments that break the tool's own input schema are a rejected request.
    return EXIT_REJECTED if _misfits(tool.tool.input_schema, arguments) else EXIT_TOOL_ERROR


def _target(args: argparse.Namespace) -> str | None:
    """The one server a call, prompt or read goes to, when the command line names it."""
    if args.host_command in ("call", "prompt"):
        return str(args.name).partition(".")[0]
    if args.host_command == "read" and args.servers and len(args.servers) == 1:
        return str(args.servers[0])
    return None


async def _command(args: argparse.Namespace, host: Host, out: Console) -> int:
    down = [s for s in host.servers.values() if s.state is not ServerState.CONNECTED]
    target = _target(args)
    if target is not None and any(s.name == target for s in down):
        return EXIT_UNAVAILABLE  # why was said as it failed; a second attempt now would fail the same way
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


async def _run(args: argparse.Namespace, config: HostConfig, reporter: _Reporter) -> int:
    out = Console(soft_wrap=True)  # paths and texts stay on one line, whatever the width
    try:
        # Usage errors surface before any server starts.
        args.arguments = _json_object(args.args) if hasattr(args, "args") else {}
        selected = _selected(args, config)
        terminal = Terminal(sys.stdin, sys.stderr)
        async with Host(config, servers=selected, terminal=terminal, on_status=reporter.status) as host:
            return await _command(args, host, out)
    except AmbiguousNameError as exc:
        code = EXIT_USAGE
        message = (
            f"resource {args.uri!r} is offered by {', '.join(exc.servers)}; name the server with "
            f"--server NAME, e.g. genai-mcp host --config {args.config} --server {exc.servers[0]} "
            f"read {args.uri}"
        )
    except (ConfigError, UnknownNameError) as exc:
        code, message = EXIT_USAGE, str(exc)
    except ServerUnavailableError as exc:
        if exc.server in reporter.told:  # its reason is on the screen already
            return EXIT_UNAVAILABLE
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
    reporter = _Reporter()
    host_logger = logging.getLogger("genai_mcp.client")
    host_logger.addFilter(reporter.filter)
    try:
        return anyio.run(_run, args, config, reporter)
    except KeyboardInterrupt:
        return 130
    finally:
        host_logger.removeFilter(reporter.filter)
