"""Server log messages into Python logging, one logger per server: `genai_mcp.client.server.<name>`."""

from __future__ import annotations

import json
import logging

from mcp.client.session import LoggingFnT
from mcp.types import LoggingMessageNotificationParams

from genai_mcp.client.config import LogLevel

__all__ = ["PYTHON_LEVELS", "make_logging_callback", "server_logger"]

# MCP has syslog's eight levels; Python has five. notice is closest to INFO, alert/emergency to CRITICAL.
PYTHON_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
_ORDER = list(PYTHON_LEVELS)


def server_logger(server: str) -> logging.Logger:
    return logging.getLogger(f"genai_mcp.client.server.{server}")


def make_logging_callback(server: str, level: LogLevel) -> LoggingFnT:
    """The SDK callback: messages at `level` or above become records tagged with the server's name.

    Each record carries `mcp_server`, `mcp_logger`, `mcp_level` and `mcp_data` attributes for
    handlers that route or format by them; the message reads `[server] logger: data`, where data
    `{"message": ..., **figures}` (genai-mcp's form) reads as its message and other data as JSON.
    """
    logger = server_logger(server)
    threshold = _ORDER.index(level)

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        if _ORDER.index(params.level) < threshold:
            return
        data = params.data
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            data = data["message"]
        elif not isinstance(data, str):
            data = json.dumps(data, default=str)
        source = f"{params.logger}: " if params.logger else ""
        logger.log(
            PYTHON_LEVELS[params.level],
            "[%s] %s%s",
            server,
            source,
            data,
            extra={
                "mcp_server": server,
                "mcp_logger": params.logger,
                "mcp_level": params.level,
                "mcp_data": params.data,
            },
        )

    return on_log
