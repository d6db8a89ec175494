"""What the `genai-mcp serve` process sets for itself: process-wide, so never done by create_server."""

from __future__ import annotations

import os
import sys

from genai_mcp.server.settings import ServerSettings

__all__ = ["configure_process"]


def configure_process(settings: ServerSettings) -> None:
    """Apply GENAI_MCP_TORCH_THREADS: torch's threads per operation, for this whole process.

    torch reads OMP_NUM_THREADS when it is first imported (tools import it on first call); a torch
    that is already loaded is set directly. On a shared machine fewer threads than cores avoid
    spin-waiting oversubscription, and leave a core to the event loop.
    """
    if settings.torch_threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(settings.torch_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(settings.torch_threads)
