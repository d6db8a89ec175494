"""The one place where the domain's errors become what an MCP client reads.

GenAIError (tools/errors.py)  -> ToolError with the same text; a refusal that carries a
                                 setting key gets the variable that changes it appended
pydantic ValidationError      -> ToolError, one `field: message` per problem
anything else                 -> propagates: a bug; the SDK logs it with its traceback and
                                 tells the client only that the tool failed
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from genai_mcp.server.limits import VARIABLES
from genai_mcp.tools.errors import GenAIError, LimitExceededError, ModelUnavailableError

__all__ = ["describe_validation_error", "error_text", "tool_errors"]

logger = logging.getLogger(__name__)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, `field: message`, without echoing the caller's (possibly huge) values."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "invalid arguments: " + "; ".join(lines)


# Settings that are off-switches a refusal can point at, with the `genai-mcp serve` flag (if any) that
# turns each on: their hint says how to start the server with it on.
SWITCHES: dict[str, str | None] = {
    "models.allow_downloads": "--allow-downloads",
    "images.allow_url_fetch": None,
}


def error_text(exc: GenAIError, variables: Mapping[str, str]) -> str:
    """The client-facing text of a domain error; `variables` maps setting keys to variable names."""
    variable = variables.get(exc.setting) if exc.setting else None
    if variable is None:
        return str(exc)
    if isinstance(exc, LimitExceededError):
        return f"{exc} (raise it with {variable})"
    if exc.setting in SWITCHES:
        flag = SWITCHES[exc.setting]
        how = f"start the server with {flag + ' or ' if flag else ''}{variable}=1"
        text = str(exc)  # the hint goes before a closing period: "..., or allow downloads (start ...)."
        return f"{text[:-1]} ({how})." if text.endswith(".") else f"{text} ({how})"
    return f"{exc} (see {variable})"


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn expected failures into ToolError (whose text reaches the client); let bugs through."""
    try:
        yield
    except GenAIError as exc:
        text = error_text(exc, VARIABLES)
        _log_failure(type(exc).__name__, text, exc.setting, warn=isinstance(exc, ModelUnavailableError))
        raise ToolError(text) from exc
    except ValidationError as exc:
        text = describe_validation_error(exc)
        _log_failure("ValidationError", text, None)
        raise ToolError(text) from exc


def _log_failure(kind: str, text: str, setting: str | None, *, warn: bool = False) -> None:
    # Clients that asked for logs get it too (server/client_logs.py). A missing model is the
    # operator's to fix (a warning); a refused input is the caller's (info).
    level = logging.WARNING if warn else logging.INFO
    logger.log(level, "refused: %s", text, extra={"figures": {"error": kind, "setting": setting}})
