"""Builds the genai-mcp MCPServer: one registration module per capability.

Nothing here imports torch, transformers or diffusers: each tool imports its stack on first call,
so `initialize` and `tools/list` stay fast and cheap.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from genai_mcp.server import (
    diffusion_tools,
    lora_tools,
    metrics_tools,
    model_resources,
    output_resources,
    rag_tools,
    text_tools,
    vision_tools,
)
from genai_mcp.server.services import Services
from genai_mcp.server.settings import ServerSettings

__all__ = ["SERVER_NAME", "create_server", "server_version"]

SERVER_NAME = "genai-mcp"

INSTRUCTIONS = """\
Generative-AI tools: evaluation metrics (BLEU, chrF, ROUGE, classification and retrieval metrics) \
and, as they are installed, vision, text generation, diffusion and LoRA tools on small house models \
or any Hugging Face checkpoint available locally. Every tool returns structured JSON described by its \
output schema. Errors name the problem and the limit."""


def server_version() -> str:
    try:
        return version("genai-mcp")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"


def create_server(settings: ServerSettings | None = None, *, http: bool = False) -> MCPServer[Any]:
    """A configured server. With `http=True` and tokens configured, bearer auth is required."""
    settings = settings or ServerSettings()
    auth_kwargs: dict[str, Any] = {}
    if http and settings.tokens:
        from genai_mcp.server.auth import StaticTokenVerifier, auth_settings
        from genai_mcp.server.http import public_url

        auth_kwargs = {
            "token_verifier": StaticTokenVerifier(settings.tokens),
            "auth": auth_settings(public_url(settings)),
        }
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="genai-mcp",
        instructions=INSTRUCTIONS,
        version=server_version(),
        log_level=settings.log_level,
        **auth_kwargs,
    )

    @server.custom_route("/health", methods=["GET"])  # type: ignore[untyped-decorator]
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "name": SERVER_NAME, "version": server_version()})

    services = Services.from_settings(settings)
    _configure_models(settings)
    metrics_tools.register(server, services)
    model_resources.register(server, services)
    output_resources.register(server, services)
    diffusion_tools.register(server, services)
    text_tools.register(server, services)
    vision_tools.register(server, services)
    rag_tools.register(server, services)
    lora_tools.register(server, services)
    return server


def _configure_models(settings: ServerSettings) -> None:
    from genai_mcp.tools.models import configure

    if settings.torch_threads is not None:
        # torch reads this when it is first imported (tools import it on first call); a torch that is
        # already loaded in this process is set directly. On a shared machine fewer threads than cores
        # avoid spin-waiting oversubscription.
        os.environ["OMP_NUM_THREADS"] = str(settings.torch_threads)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(settings.torch_threads)

    configure(
        max_models=settings.cache_max_models,
        max_bytes=settings.cache_max_bytes,
        allow_downloads=settings.allow_downloads,
        device=settings.device,
    )
