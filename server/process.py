"""What the `genai-mcp serve` process sets for itself: process-wide, so never done by create_server."""

from __future__ import annotations

import logging
import os
import sys

from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools import work
from genai_mcp.tools.models.progress_bars import disable_progress_bars

__all__ = ["configure_process"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_handler: logging.Handler | None = None  # this process's stderr handler, once configured


def configure_process(settings: ServerSettings) -> None:
    """Set up this serve process: stderr logging, no progress bars, torch's threads. Idempotent.

    - Logging: records at `--log-level` and above go to stderr (stdout over stdio carries only
      JSON-RPC), except refused calls, which stderr shows only at DEBUG; every genai_mcp record
      is created, so clients may ask for levels below it (server/client_logs.py filters per client).
    - The model libraries' console progress bars are off (tools/models/progress_bars.py), set
      before they are imported (tools import them on first call) and on any already loaded.
    - Model work (tools/work.py): GENAI_MCP_WORK_NICENESS nice levels below the protocol's
      threads (0, the default: none); torch's threads per work item from the thread budget (torch's default while the
      cores are free, fewer while other processes take them), unless GENAI_MCP_TORCH_THREADS fixes
      the count. A fixed count also goes to OMP_NUM_THREADS (torch reads it when first imported)
      and to a torch already loaded.
    """
    _configure_logging(settings.log_level)
    disable_progress_bars()  # a bar on stderr is noise in every host's output; loads are logged
    work.configure(settings.work_niceness, settings.torch_threads)
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
        _handler.addFilter(_expected_refusals_at_debug)
        root.addHandler(_handler)
    _handler.setLevel(level)
    root.setLevel(level)  # other libraries' records: only at --log-level
    logging.getLogger("genai_mcp").setLevel(logging.DEBUG)  # ours all exist; the handlers filter


def _expected_refusals_at_debug(record: logging.LogRecord) -> bool:
    """On stderr, a refused call is a DEBUG matter: the caller has it in its result already, and a
    stdio server's stderr is often the same terminal (a host), where it would show two or three
    times. Clients that asked for logs still get our refusal records at their own level."""
    if record.levelno >= logging.WARNING or _handler is None or _handler.level <= logging.DEBUG:
        return True
    if getattr(record, "refusal", False):
        return False
    # The SDK's own line for the same refusal ("Tool 'x' failed: ..." / "rejected arguments").
    return not (record.name == "mcp.server.mcpserver.server" and str(record.msg).startswith("Tool %r"))
