"""How a prompt is declared, checked and published (server/prompts.py has the prompts themselves).

A PromptSpec lists its arguments (strings, as MCP has them) and a render function. Each argument is
checked before anything is rendered: a missing required one, an unknown name, one over its length
limit or outside its choices is an INVALID_PARAMS error that names the argument and what is
allowed. An unknown prompt name is INVALID_PARAMS too, naming the closest prompt.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.prompts.base import Message, Prompt, PromptArgument, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, GetPromptRequestParams, GetPromptResult, InputRequiredResult

from genai_mcp.server.limits import VARIABLES
from genai_mcp.server.state import ServerState

__all__ = [
    "PromptArg",
    "PromptError",
    "PromptSpec",
    "call",
    "integer_argument",
    "lines_of",
    "publish_prompts",
]

SHORT = 1024  # chars of a name, id or short option


@dataclass(frozen=True)
class PromptArg:
    """One prompt argument. `max_chars` is a number or a limit key whose live value bounds it."""

    name: str
    description: str
    required: bool = False
    max_chars: int | str = SHORT
    choices: tuple[str, ...] = ()


Render = Callable[[ServerState, Mapping[str, str]], str]


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: tuple[PromptArg, ...]
    render: Render  # (state, checked arguments) -> the user message; PromptError for a bad value


class PromptError(Exception):
    """A prompt argument's value is refused; the message says which and why."""


def call(tool: str, **arguments: Any) -> str:
    """How a prompt names a tool call: `tool` with its arguments as JSON (None: left out)."""
    given = {k: v for k, v in arguments.items() if v is not None}
    return f"`{tool}` with {json.dumps(given, ensure_ascii=False)}"


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def integer_argument(
    args: Mapping[str, str], name: str, default: int | None, *, low: int, key: str, state: ServerState
) -> int | None:
    if name not in args:
        return default
    high = int(str(state.limits[key]))
    raw = args[name].strip()
    if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
        raise PromptError(
            f"{name} must be a whole number from {low} to {high} ({key}, {VARIABLES[key]}), not {raw[:20]!r}"
        )
    return int(raw)


def _checked(spec: PromptSpec, state: ServerState, arguments: Mapping[str, Any]) -> dict[str, str]:
    names = [a.name for a in spec.arguments]
    for given in arguments:
        if given not in names:
            close = difflib.get_close_matches(given, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; its arguments: {', '.join(names)}"
            raise PromptError(f"unknown argument {given[:80]!r}{hint}")
    checked: dict[str, str] = {}
    for arg in spec.arguments:
        value = arguments.get(arg.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if arg.required:
                raise PromptError(f"the argument {arg.name!r} is required: {arg.description}")
            continue
        if not isinstance(value, str):
            raise PromptError(f"{arg.name} must be a string, not {type(value).__name__}")
        limit = arg.max_chars if isinstance(arg.max_chars, int) else int(str(state.limits[arg.max_chars]))
        if len(value) > limit:
            where = (
                "" if isinstance(arg.max_chars, int) else f" ({arg.max_chars}, {VARIABLES[arg.max_chars]})"
            )
            raise PromptError(f"{arg.name} is {len(value)} characters, over the limit of {limit}{where}")
        if arg.choices and value not in arg.choices:
            raise PromptError(f"{arg.name} must be one of {', '.join(arg.choices)}, not {value[:80]!r}")
        checked[arg.name] = value
    return checked


class _CheckedPrompt(Prompt):
    """An SDK Prompt whose arguments are checked by _checked (the SDK's own check answers only
    "Error rendering prompt" for a bad value) and whose text comes from its spec."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> list[Message]:  # type: ignore[override]
        text = await anyio.to_thread.run_sync(self.fn, arguments or {})
        assert isinstance(text, str)
        return [UserMessage(text)]


def publish_prompts(server: MCPServer[Any], state: ServerState, prompts: Sequence[PromptSpec]) -> None:
    """Register `prompts` on `server`, each rendered against this server's `state`."""
    _refuse_unknown_prompts(server, [spec.name for spec in prompts])
    for spec in prompts:

        def render(arguments: Mapping[str, Any], spec: PromptSpec = spec) -> str:
            try:
                return spec.render(state, _checked(spec, state, arguments))
            except PromptError as exc:
                raise MCPError(INVALID_PARAMS, f"prompt {spec.name}: {exc}") from None

        server.add_prompt(
            _CheckedPrompt(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                arguments=[
                    PromptArgument(name=a.name, description=a.description, required=a.required)
                    for a in spec.arguments
                ],
                fn=render,
            )
        )


def _refuse_unknown_prompts(server: MCPServer[Any], names: list[str]) -> None:
    """An unknown prompt name is INVALID_PARAMS naming the prompts there are.

    The SDK raises a bare ValueError for it, which a 2026-07-28 client reads as "Internal server
    error" (and the server logs as a crash). MCPServer has no public hook, so the check wraps its
    `prompts/get` handler on the low-level server, as client_logs does for `logging/setLevel`.
    """
    sdk_get_prompt = server._handle_get_prompt

    async def get_prompt(
        ctx: ServerRequestContext[Any], params: GetPromptRequestParams
    ) -> GetPromptResult | InputRequiredResult:
        if params.name not in names:
            close = difflib.get_close_matches(params.name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"prompts: {', '.join(names)}"
            raise MCPError(INVALID_PARAMS, f"unknown prompt {params.name[:80]!r}; {hint}")
        return await sdk_get_prompt(ctx, params)

    server._lowlevel_server.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)
