"""Builds the genai-mcp MCPServer: one registration module per capability.

Nothing here imports torch, transformers or diffusers: each tool imports its stack on first call,
so `initialize` and `tools/list` stay fast and cheap.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import RequestStateSecurity
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import genai_mcp
from genai_mcp.server import (
    anatomy_tools,
    apps,
    client_logs,
    completions,
    diffusion_tools,
    job_resources,
    job_tools,
    latent_tools,
    lora_tools,
    metrics_tools,
    model_resources,
    output_resources,
    prompts,
    rag_resources,
    rag_tools,
    text_tools,
    tool_listing,
    vision_tools,
)
from genai_mcp.server.adapters import ToolPublisher
from genai_mcp.server.settings import ServerSettings
from genai_mcp.server.state import ServerState

__all__ = ["SERVER_NAME", "build_server", "create_server", "server_version"]

SERVER_NAME = "genai-mcp"

INSTRUCTIONS = """\
Generative-AI tools: evaluation metrics (BLEU, chrF, ROUGE, classification and retrieval metrics) \
and, as they are installed, vision, text generation, diffusion and LoRA tools on small house models \
or any Hugging Face checkpoint available locally. Every tool returns structured JSON described by its \
output schema. Errors name the problem and the limit."""


def server_version() -> str:
    return genai_mcp.__version__


def create_server(settings: ServerSettings | None = None, *, http: bool = False) -> MCPServer[Any]:
    """A configured server that owns its state (server/state.py): two in one process share nothing.

    With `http=True` and tokens configured, bearer auth is required. Process-wide settings (torch's
    threads) are the serve command's to apply (server/process.py), not this function's.
    """
    return build_server(settings or ServerSettings(), http=http)[0]


def build_server(settings: ServerSettings, *, http: bool = False) -> tuple[MCPServer[Any], ToolPublisher]:
    """create_server's server, and the publisher that holds every tool's spec (for tests and docs)."""
    auth_kwargs: dict[str, Any] = {}
    if http and settings.tokens:
        from genai_mcp.server.auth import StaticTokenVerifier, auth_settings
        from genai_mcp.server.http import public_url

        auth_kwargs = {
            "token_verifier": StaticTokenVerifier(settings.tokens),
            "auth": auth_settings(public_url(settings)),
        }
    if settings.request_state_keys:
        # Shared keys let any replica open the request state another one sealed (README, Scaling out);
        # without them the SDK seals with a key of this process alone.
        secrets = [k.get_secret_value() for k in settings.request_state_keys]
        auth_kwargs["request_state_security"] = RequestStateSecurity(keys=secrets)
    state = ServerState.from_settings(settings)
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="genai-mcp",
        instructions=INSTRUCTIONS,
        version=server_version(),
        log_level=settings.log_level,
        lifespan=lambda _server: client_logs.attached(state.running()),
        **auth_kwargs,
    )

    client_logs.install(server)  # the `logging` capability: records go to clients that ask
    tool_listing.install(server)  # tools/list serialized once, not per request

    @server.custom_route("/health", methods=["GET"])  # type: ignore[untyped-decorator]
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "name": SERVER_NAME, "version": server_version()})

    tools = ToolPublisher(server, state.limits)
    for capability in (
        metrics_tools,
        diffusion_tools,
        latent_tools,
        text_tools,
        vision_tools,
        anatomy_tools,
        rag_tools,
        lora_tools,
        job_tools,
    ):
        capability.register(tools, state)
    model_resources.register(server, state)
    output_resources.register(server, state)
    job_resources.register(server, state)
    rag_resources.register(server, state)
    apps.register(server)  # the ui:// views that tools name in _meta.ui.resourceUri
    prompts.register(server, state)
    completions.register(server, state)  # last: it completes the prompts' and templates' arguments
    return server, tools
