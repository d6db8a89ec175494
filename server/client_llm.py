"""Asking the client's LLM (MCP sampling) from inside a tool, without ever requiring it.

Tools use this from a `Resolve(...)` resolver. On 2026-07-28 connections the resolver returns the
`Sample`, which the SDK carries in an InputRequiredResult; on legacy connections it sends the
request itself, so that a refusal becomes a status instead of failing the whole call. Either way a
client that cannot sample gets the tool's non-LLM part and a status saying why nothing was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context, Sample
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import CreateMessageRequest, CreateMessageResult, SamplingMessage, TextContent

__all__ = ["SamplingSkipped", "SamplingStatus", "ask_client_llm", "read_reply"]

# The first protocol revision without server-to-client requests during a call (versions are dates,
# so string order is time order).
_INPUT_REQUIRED_ERA = "2026-07-28"
_SAMPLING_TIMEOUT_S = 120.0

SamplingStatus = Literal["produced", "client_cannot_sample", "declined", "no_back_channel", "unusable_reply"]


@dataclass(frozen=True)
class SamplingSkipped:
    status: SamplingStatus
    note: str


async def ask_client_llm(
    ctx: Context[Any], *, user: str, system: str, max_tokens: int, nothing_made: str
) -> Sample | CreateMessageResult | SamplingSkipped:
    """The client's reply, the Sample for the SDK to carry (2026 era), or why there is none.

    `nothing_made` completes the no-sampling note, e.g. "no description was produced".
    """
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        return SamplingSkipped(
            "client_cannot_sample", f"the client does not offer sampling, so {nothing_made}"
        )
    sample = Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text=user))],
        max_tokens=max_tokens,
        system_prompt=system,
    )
    if (ctx.protocol_version or "") >= _INPUT_REQUIRED_ERA:
        return sample  # the SDK sends it inside an InputRequiredResult and injects the answer
    if not ctx.session.can_send_request:
        return SamplingSkipped(
            "no_back_channel", "this connection cannot carry a sampling request to the client"
        )
    try:
        result: CreateMessageResult = await ctx.session.send_request(
            CreateMessageRequest(params=sample.params),
            CreateMessageResult,
            request_read_timeout_seconds=_SAMPLING_TIMEOUT_S,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
    except MCPError as exc:
        return SamplingSkipped(
            "declined", f"the client answered the sampling request with an error: {exc.message}"
        )
    return result


def read_reply(reply: CreateMessageResult | SamplingSkipped) -> tuple[str | None, SamplingStatus, str]:
    """(text or None, status, note) from what the resolver produced."""
    if isinstance(reply, SamplingSkipped):
        return None, reply.status, reply.note
    content = reply.content
    text = content.text.strip() if isinstance(content, TextContent) else ""
    if not text:
        kind = "empty text" if isinstance(content, TextContent) else f"{content.type} content"
        return None, "unusable_reply", f"the client's LLM ({reply.model}) replied with {kind}"
    return text, "produced", f"written by the client's LLM ({reply.model})"
