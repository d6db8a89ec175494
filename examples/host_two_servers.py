"""The host tour: one Python script, two MCP servers, and the three things servers ask of a host.

    python examples/host_two_servers.py                       # local LLM, scripted answers
    python examples/host_two_servers.py --ask                 # answer the booking form yourself
    python examples/host_two_servers.py --sampling human      # be the LLM yourself
    OPENAI_API_KEY=... python examples/host_two_servers.py --sampling openai \\
        --url https://api.openai.com/v1 --model gpt-4o-mini

Server "genai" is genai-mcp over stdio: its metrics, and describe_image, which asks the host's LLM
for a sentence (sampling); it logs the models it loads (logging: each record carries the figures, id,
task, device, dtype, seconds, bytes). Server "desk" is the small server at the bottom of this file, started as
`python examples/host_two_servers.py --serve`: book_room asks the user for details (elicitation)
and logs what it does (logging); tidy_up reports progress. Both protocol forms work: "desk" uses
2026-07-28 (multi round-trip requests), "genai" 2025-11-25 (push requests), to show both.
"""

import argparse
import base64
import io
import logging
import sys
import tempfile
import warnings
from typing import Annotated, Any, Literal

import anyio
from mcp import MCPDeprecationWarning
from mcp.server import MCPServer
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from pydantic import BaseModel, Field
from rich.console import Console
from rich.logging import RichHandler

from genai_mcp.client import Host, ProgressBars
from genai_mcp.tools.models.progress_bars import disable_progress_bars

console = Console()


def digit_png() -> str:
    """A 16x16 white '1' on black, base64: the kind of image the house classifiers know."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (16, 16))
    ImageDraw.Draw(image).line([(8, 2), (8, 13)], fill="white", width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def host_config(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    sampling: dict[str, Any] = {"backend": args.sampling, "max_tokens": 48, "seed": 0}
    if args.sampling == "openai":
        sampling |= {"url": args.url, "model": args.model, "api_key": "${OPENAI_API_KEY}"}
    answers = {"room": "large", "hours": 2, "projector": True}
    return {
        "mcpServers": {
            "genai": {
                "command": sys.executable,
                "args": ["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
                # A stdio server does not inherit this environment: pass what it needs.
                "env": {"HF_HUB_OFFLINE": "1", "GENAI_MCP_DATA_DIR": data_dir},
                "protocol": "legacy",
                "sampling": sampling,
                "log_level": "info",  # asked with logging/setLevel on 2025-11-25: loads and warnings
            },
            "desk": {
                "command": sys.executable,
                "args": [__file__, "--serve"],
                "elicitation": {"mode": "terminal"} if args.ask else {"mode": "answers", "answers": answers},
                "log_level": "info",
            },
        }
    }


async def tour(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        async with Host.from_config(host_config(args, data_dir)) as host:
            for status in host.servers.values():
                console.print(
                    f"[bold]{status.name}[/]: {status.state} ({status.server_info}, {status.protocol_version})"
                )
            tools = await host.list_tools()
            console.print(f"{len(tools)} tools: " + ", ".join(t.name for t in tools))

            scores = await host.call_tool(
                "genai.text_metrics",
                {"candidates": ["the cat sat on the mat"], "references": [["a cat sat on the mat"]]},
            )
            assert scores.structured_content is not None
            console.print(f"BLEU from genai: {scores.structured_content['bleu']['corpus']['score']:.1f}")

            booked = await host.call_tool(
                "desk.book_room", {"topic": "MCP reading group"}
            )  # elicitation + logs
            console.print(f"desk answered: {booked.structured_content}")

            with ProgressBars(console) as bars:
                await host.call_tool("desk.tidy_up", {"steps": 20}, progress=bars.track("desk.tidy_up"))

            console.print("describe_image: classifiers on the server, then the host's LLM (sampling) ...")
            described = await host.call_tool("genai.describe_image", {"image": digit_png()}, timeout=600)
            result = described.structured_content or {}
            console.print(f"description: {result.get('description')!r} ({result.get('description_note')})")


# The "desk" server. Its tools live at module level: the SDK reads their annotations from this
# module's globals.


class Booking(BaseModel):
    room: Literal["small", "large"] = Field("small", description="Which room")
    hours: int = Field(1, ge=1, le=8, description="How many hours")
    projector: bool = Field(False, description="Need a projector?")


def ask_booking(topic: str) -> Elicit[Booking]:
    return Elicit(f"Book a room for {topic!r}?", Booking)


async def book_room(
    topic: str, ctx: Context, booking: Annotated[ElicitationResult[Booking], Resolve(ask_booking)]
) -> str:
    """Books a room after asking the user which one; logs the outcome."""
    with warnings.catch_warnings():  # protocol logging is deprecated by 2026-07-28, still widely used
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        if isinstance(booking, AcceptedElicitation):
            b = booking.data
            await ctx.info(f"booked the {b.room} room for {b.hours} h (projector: {b.projector})")
            return f"{b.room} room booked for {topic!r}"
        await ctx.warning(f"booking for {topic!r} not made: the user chose {booking.action}")
        return "not booked"


async def tidy_up(steps: int, ctx: Context) -> int:
    """A slow chore reporting progress once per step."""
    for i in range(1, steps + 1):
        await anyio.sleep(0.05)
        await ctx.report_progress(i, total=steps, message=f"shelf {i}/{steps}")
    return steps


def serve() -> None:
    """Run "desk" over stdio: a room-booking form (elicitation), logs, and a slow chore (progress)."""
    desk: MCPServer = MCPServer("desk", log_level="WARNING")
    desk.tool()(book_room)
    desk.tool()(tidy_up)
    desk.run()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sampling", choices=["local", "human", "openai", "none"], default="local")
    parser.add_argument("--url", default="https://api.openai.com/v1", help="openai: base URL")
    parser.add_argument("--model", default="gpt-4o-mini", help="openai: model name")
    parser.add_argument("--ask", action="store_true", help="answer the booking form at the terminal")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    # Server log messages arrive as records of genai_mcp.client.server.<name>.
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    logging.getLogger("genai_mcp.client.server").setLevel(logging.INFO)
    # The local LLM loads in this process: its load is quiet too (the server's loads are logged).
    disable_progress_bars()
    anyio.run(tour, args)


if __name__ == "__main__":
    main()
