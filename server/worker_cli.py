"""`genai-mcp worker`: a fine-tuning worker process, training the jobs replicas queue in PostgreSQL.

It reads the same settings as `genai-mcp serve` (GENAI_MCP_* variables, and the flags below): the
database (GENAI_MCP_DATABASE_URL, required), the data dir the adapters are saved in (shared with
the replicas that serve them), the roots datasets may be read from, the default models and the
lora limits. It runs until SIGTERM or Ctrl-C; a job training then stops at its next step and is
recorded cancelled, with nothing saved. Exit status: 0 after a stop, 2 on a settings problem
(no database URL, a database that cannot be used: the message never shows the password).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

from genai_mcp.server.process import configure_process
from genai_mcp.server.settings import ServerSettings, SettingsError

__all__ = ["add_worker_parser", "run_worker"]

logger = logging.getLogger(__name__)


def add_worker_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="run a fine-tuning worker (needs GENAI_MCP_DATABASE_URL)",
        description=(
            "Train the fine-tuning jobs replicas queue in the database at GENAI_MCP_DATABASE_URL, one at "
            "a time, until SIGTERM or Ctrl-C. Every flag also reads GENAI_MCP_<NAME> from the environment."
        ),
    )
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    p.add_argument(
        "--root",
        action="append",
        dest="roots",
        type=Path,
        help="folder datasets may be read from (repeatable)",
    )
    p.add_argument("--data-dir", type=Path, help="where adapters are written (the replicas' data dir)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--allow-downloads", action="store_true", default=None, help="allow Hugging Face hub downloads"
    )
    p.add_argument("--classifier-model", metavar="MODEL", help="default image classifier to adapt")
    p.add_argument("--text-model", metavar="MODEL", help="default causal LM to adapt")


def run_worker(args: argparse.Namespace) -> int:
    """Run a worker until it is stopped; 2 on a settings error."""
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        settings = ServerSettings.load(overrides)
        if settings.database_url is None:
            raise SettingsError(
                "a worker trains the jobs queued in a database: set GENAI_MCP_DATABASE_URL="
                "postgresql://user[:password]@host:port/database (the replicas' own)"
            )
        configure_process(settings)
        from genai_mcp.server.state import ServerState

        # A worker is a server's state without its protocol face: the same models, roots, adapter
        # store and limits; the replica-side queue it builds checks the database and its tables.
        state = ServerState.from_settings(settings.model_copy(update={"job_worker": False}))
        from genai_mcp.server.job_queue import build_worker

        name = f"{socket.gethostname()}-{os.getpid()}"
        worker = build_worker(
            settings, models=state.models, images=state.images, adapters=state.adapters, name=name
        )
        removed = state.adapters.clean_stale()
        if removed:
            logger.info("removed %d stale adapter temp folder(s)", removed)
        logger.info("fine-tuning worker %s started; adapters go to %s", name, state.adapters.root)
        worker.run(handle_signals=True)
    except SettingsError as exc:
        print(f"genai-mcp worker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    logger.info("fine-tuning worker %s stopped", name)
    return 0
