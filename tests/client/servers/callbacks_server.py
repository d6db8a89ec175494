"""A small real MCP server for the host's tests: sampling, elicitation, logging, progress, a crash.

Run as a stdio server: `python tests/client/servers/callbacks_server.py [--name NAME]`.
Each tool exists to drive one host callback through a real process; the resolver tools
(`summarize`, `configure`) work on both protocol forms, the `*_push` tools only on 2025-11-25.
"""

from __future__ import annotations

import argparse
import os
import struct
import warnings
import zlib
from typing import Annotated, Literal

import anyio
from mcp import MCPDeprecationWarning
from mcp.server import MCPServer
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    Image,
    Resolve,
    Sample,
)
from mcp.types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel, Field

parser = argparse.ArgumentParser()
parser.add_argument("--name", default="callbacks-test")
NAME = parser.parse_args().name

server: MCPServer = MCPServer(NAME, log_level="WARNING")


class Summary(BaseModel):
    summary: str
    model: str
    stop_reason: str | None


def _ask_llm(text: str) -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarize: {text}"))
    return Sample([message], max_tokens=24, system_prompt="Answer in one line.", temperature=0.0)


@server.tool()
async def summarize(text: str, completion: Annotated[CreateMessageResult, Resolve(_ask_llm)]) -> Summary:
    """Asks the client's LLM (sampling) to summarize `text`."""
    content = completion.content
    answer = content.text if isinstance(content, TextContent) else f"<{content.type}>"
    return Summary(summary=answer, model=completion.model, stop_reason=completion.stop_reason)


class JobSettings(BaseModel):
    name: str = Field(description="Job name")
    epochs: int = Field(default=2, description="Number of epochs")
    rate: float = Field(default=0.5, description="Learning rate")
    verbose: bool = Field(default=False, description="Print every step")
    color: Literal["red", "green", "blue"] = Field(default="green", description="Plot colour")


class Outcome(BaseModel):
    action: str
    settings: JobSettings | None = None


def _ask_settings(job: str) -> Elicit[JobSettings]:
    return Elicit(f"Settings for job {job!r}?", JobSettings)


@server.tool()
async def configure(
    job: str, answer: Annotated[ElicitationResult[JobSettings], Resolve(_ask_settings)]
) -> Outcome:
    """Asks the user (elicitation) for a job's settings and returns what they answered."""
    match answer:
        case AcceptedElicitation(data=data):
            return Outcome(action="accept", settings=data)
        case DeclinedElicitation():
            return Outcome(action="decline")
        case CancelledElicitation():
            return Outcome(action="cancel")
    raise AssertionError(answer)


@server.tool()
async def configure_push(job: str, ctx: Context) -> Outcome:
    """Push-style elicitation: works only on 2025-11-25 connections."""
    answer = await ctx.elicit(f"Settings for job {job!r}?", schema=JobSettings)
    if isinstance(answer, AcceptedElicitation):
        return Outcome(action="accept", settings=answer.data)
    return Outcome(action=answer.action)


@server.tool()
async def summarize_push(text: str, ctx: Context) -> str:
    """Push-style sampling: works only on 2025-11-25 connections."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarize: {text}"))
    with warnings.catch_warnings():  # sampling is deprecated by 2026-07-28; this tool exists to test it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        result = await ctx.session.create_message([message], max_tokens=24)
    return result.content.text if isinstance(result.content, TextContent) else "<non-text>"


@server.tool()
async def chatty(note: str, ctx: Context) -> str:
    """Sends one protocol log message at debug, info and warning level."""
    with warnings.catch_warnings():  # protocol logging is deprecated by 2026-07-28; still what we test
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await ctx.debug(f"debug {note}")
        await ctx.info({"event": "info", "note": note})
        await ctx.warning(f"warning {note}", logger_name="chatty.worker")
    return "logged"


@server.tool()
async def slow(steps: int, ctx: Context, delay: float = 0.02) -> int:
    """Reports progress once per step, `delay` seconds apart; returns the steps done."""
    for i in range(1, steps + 1):
        await anyio.sleep(delay)  # the work itself: a call that takes time, for progress and timeouts
        await ctx.report_progress(i, total=steps, message=f"step {i}/{steps}")
    return steps


@server.tool()
def echo(text: str) -> str:
    """Returns `text` tagged with this server's name."""
    return f"{NAME}: {text}"


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Exits the process at once, as a crashing server would."""
    os._exit(3)


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@server.tool()
def red_square(size: int = 4) -> list[Image | str]:
    """A red PNG square, `size` pixels wide, and a caption."""
    return [Image(data=_png(size, size), format="png"), f"a red {size}x{size} square"]


@server.resource("notes://readme", mime_type="text/plain")
def readme() -> str:
    return f"readme of {NAME}"


@server.resource("notes://{topic}/page")
def page(topic: str) -> str:
    return f"page about {topic}"


@server.prompt(title="Greet someone")
def greet(who: str) -> str:
    return f"Say hello to {who}."


if __name__ == "__main__":
    server.run()
