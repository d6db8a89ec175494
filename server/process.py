"""What the `genai-mcp serve` process sets for itself: process-wide, so never done by create_server."""

from __future__ import annotations

import logging
import os
import sys

from genai_mcp.server.settings import ServerSettings

__all__ = ["QUIET_PROGRESS_BARS", "configure_process"]

# The libraries' own switches for their console progress bars ("Loading weights", downloads,
# "Loading pipeline components..."): huggingface_hub reads the first at import, and transformers
# takes its default from huggingface_hub; diffusers has no variable, but its bars are tqdm's, whose
# default `disable` TQDM_DISABLE sets. A bar on a server's stderr is noise in every host's output,
# and the server reports loads and progress to its clients itself.
QUIET_PROGRESS_BARS = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_handler: logging.Handler | None = None  # this process's stderr handler, once configured


def configure_process(settings: ServerSettings) -> None:
    """Set up this serve process: stderr logging, no progress bars, torch's threads. Idempotent.

    - Logging: records at `--log-level` and above go to stderr (stdout over stdio carries only
      JSON-RPC); every genai_mcp record is created, so clients may ask for levels below it
      (server/client_logs.py filters per client).
    - Progress bars of transformers, diffusers and huggingface_hub are off, set before they are
      imported (tools import them on first call) and directly on any already loaded.
    - GENAI_MCP_TORCH_THREADS: torch's threads per operation. torch reads OMP_NUM_THREADS when it
      is first imported; a torch already loaded is set directly. On a shared machine fewer threads
      than cores avoid spin-waiting oversubscription, and leave a core to the event loop.
    """
    _configure_logging(settings.log_level)
    _silence_progress_bars()
    if settings.torch_threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(settings.torch_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(settings.torch_threads)


def _configure_logging(level: str) -> None:
    # Before MCPServer is built: its own basicConfig then finds a handler and changes nothing.
    global _handler
    root = logging.getLogger()
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(_handler)
    _handler.setLevel(level)
    root.setLevel(level)  # other libraries' records: only at --log-level
    logging.getLogger("genai_mcp").setLevel(logging.DEBUG)  # ours all exist; the handlers filter


def _silence_progress_bars() -> None:
    os.environ.update(QUIET_PROGRESS_BARS)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils.tqdm import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if "diffusers" in sys.modules:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
