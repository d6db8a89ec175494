"""Answering a server's sampling request: a local causal LM, an OpenAI-compatible endpoint, or a person.

Every request can pass an approval step first (a Python hook, the terminal, or both), so a person
sees what a server wants to ask the LLM and can refuse it; a refusal reaches the server as an
error (code -1), which a well-behaved tool reports instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.client import ClientRequestContext
from mcp.client.session import SamplingFnT
from mcp.types import (
    INTERNAL_ERROR,
    CreateMessageRequestParams,
    CreateMessageResult,
    CreateMessageResultWithTools,
    ErrorData,
    TextContent,
)
from pydantic import ValidationError

from genai_mcp.client.config import SamplingConfig
from genai_mcp.client.terminal import Terminal

__all__ = ["USER_REJECTED", "SamplingApprover", "chat_messages", "make_sampling_callback"]

logger = logging.getLogger("genai_mcp.client")

SamplingApprover = Callable[[str, CreateMessageRequestParams], Awaitable[bool]]
"""`approve(server, params) -> bool`: False refuses the request before any LLM sees it."""

# The code MCP's examples use for "the user rejected the sampling request".
USER_REJECTED = -1

# genai_mcp.tools.text's finish reasons (in-process and on an engine) as MCP stop reasons.
_LOCAL_STOP = {"length": "maxTokens", "eos": "endTurn", "stop": "stopSequence"}


class SamplingRefused(Exception):
    """A backend cannot or will not answer; the message goes back to the server."""

    def __init__(self, message: str, code: int = INTERNAL_ERROR):
        super().__init__(message)
        self.code = code


def chat_messages(params: CreateMessageRequestParams) -> list[dict[str, str]]:
    """The request as chat messages (`role`, `content`), system prompt first; text only."""
    messages = [{"role": "system", "content": params.system_prompt}] if params.system_prompt else []
    for message in params.messages:
        blocks = message.content if isinstance(message.content, list) else [message.content]
        for block in blocks:
            if not isinstance(block, TextContent):
                raise SamplingRefused(f"this host's sampling backends take text only, not {block.type!r}")
            messages.append({"role": message.role, "content": block.text})
    return messages


def _show_request(terminal: Terminal, server: str, params: CreateMessageRequestParams, what: str) -> None:
    terminal.say(f"\n[{server}] {what} (at most {params.max_tokens} tokens):")
    try:
        messages = chat_messages(params)
    except SamplingRefused as exc:
        terminal.say(f"  ({exc})")
        return
    for message in messages:
        terminal.say(f"  {message['role']}: {message['content']}")


def _temperature(params: CreateMessageRequestParams, config: SamplingConfig) -> float | None:
    return params.temperature if params.temperature is not None else config.temperature


async def _local(params: CreateMessageRequestParams, config: SamplingConfig) -> CreateMessageResult:
    try:
        from genai_mcp.tools.errors import GenAIError
        from genai_mcp.tools.models.progress_bars import disable_progress_bars
        from genai_mcp.tools.text import GenerateTextRequest, generate_text
    except ImportError as exc:
        raise SamplingRefused(
            f"the local backend needs genai_mcp.tools.text, which is missing: {exc}"
        ) from None
    # The host's terminal is the user's: the model libraries' "Loading weights" bars stay off it
    # (process-wide switches, and this process is the host's).
    disable_progress_bars()
    fields: dict[str, Any] = {
        "messages": chat_messages(params),
        "max_new_tokens": min(params.max_tokens, config.max_tokens),
        "stop": params.stop_sequences or [],
        # A server's prompt may outgrow a small local model: keep its end (the question) rather than fail.
        "truncate_prompt": True,
    }
    optional = {"temperature": _temperature(params, config), "seed": config.seed, "model": config.model}
    fields.update({k: v for k, v in optional.items() if v is not None})
    try:
        request = GenerateTextRequest.model_validate(fields)
        # Generation is synchronous torch work: a worker thread keeps the other servers served.
        result = await anyio.to_thread.run_sync(generate_text, request)
    except (GenAIError, ValidationError) as exc:
        raise SamplingRefused(f"local model: {exc}") from None
    return CreateMessageResult(
        role="assistant",
        content=TextContent(type="text", text=result.text.strip()),
        model=result.model,
        stop_reason=_LOCAL_STOP.get(result.finish_reason, result.finish_reason),
    )


async def _openai(params: CreateMessageRequestParams, config: SamplingConfig) -> CreateMessageResult:
    # The same engine client as the server's generate_text (genai_mcp.tools.text.engine): streamed,
    # one code path for both, so both meet an engine's quirks and failures alike.
    from genai_mcp.tools.errors import GenAIError
    from genai_mcp.tools.text import GenerateTextRequest, TextLimits
    from genai_mcp.tools.text.engine import Engine, generate_on_engine

    assert config.url is not None and config.model is not None  # checked by SamplingConfig
    engine = Engine(
        url=config.url,
        model=config.model,
        api_key=config.api_key.get_secret_value() if config.api_key else None,
        timeout_seconds=config.timeout,
    )
    fields: dict[str, Any] = {
        "messages": chat_messages(params),
        "max_new_tokens": min(params.max_tokens, config.max_tokens),
        "stop": params.stop_sequences or [],
    }
    optional = {"temperature": _temperature(params, config), "seed": config.seed}
    fields.update({k: v for k, v in optional.items() if v is not None})
    limits = TextLimits(max_new_tokens=config.max_tokens, max_stop_strings=len(fields["stop"]))
    try:
        request = GenerateTextRequest.model_validate(fields)
        # A blocking HTTP stream: a worker thread keeps the other servers served.
        result = await anyio.to_thread.run_sync(lambda: generate_on_engine(request, engine, limits=limits))
    except (GenAIError, ValidationError) as exc:
        raise SamplingRefused(f"openai backend: {exc}") from None
    return CreateMessageResult(
        role="assistant",
        content=TextContent(type="text", text=result.text.strip()),
        model=result.model,
        stop_reason=_LOCAL_STOP.get(result.finish_reason, result.finish_reason),
    )


async def _human(server: str, params: CreateMessageRequestParams, terminal: Terminal) -> CreateMessageResult:
    async with terminal.lock:
        _show_request(terminal, server, params, "asks the LLM, and you answer")
        terminal.say("Type the reply; an empty line ends it (an empty reply refuses):")
        lines: list[str] = []
        while (line := await terminal.ask("> ")) not in (None, ""):
            lines.append(line)
    if not lines:
        raise SamplingRefused("the user gave no reply", USER_REJECTED)
    return CreateMessageResult(
        role="assistant",
        content=TextContent(type="text", text="\n".join(lines)),
        model="human",
        stop_reason="endTurn",
    )


def make_sampling_callback(
    server: str, config: SamplingConfig, terminal: Terminal, approver: SamplingApprover | None = None
) -> SamplingFnT | None:
    """The SDK callback for one server, or None for backend 'none' (no sampling capability declared)."""
    if config.backend == "none":
        return None

    async def approved(params: CreateMessageRequestParams) -> bool:
        if approver is not None and not await approver(server, params):
            return False
        if config.approval == "terminal" and config.backend != "human":
            async with terminal.lock:
                _show_request(terminal, server, params, f"wants to ask the LLM ({config.backend} backend)")
                return await terminal.confirm("Allow this request?")
        return True

    async def on_sample(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | CreateMessageResultWithTools | ErrorData:
        try:
            if not await approved(params):
                raise SamplingRefused("the user declined the sampling request", USER_REJECTED)
            if config.backend == "local":
                result = await _local(params, config)
            elif config.backend == "openai":
                result = await _openai(params, config)
            else:
                result = await _human(server, params, terminal)
        except SamplingRefused as exc:
            logger.warning("[%s] sampling refused: %s", server, exc)
            return ErrorData(code=exc.code, message=str(exc))
        logger.info("[%s] sampled %s (%s)", server, result.model, result.stop_reason)
        return result

    return on_sample
