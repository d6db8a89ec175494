"""The one place where the domain's errors become what an MCP client reads.

GenAIError (tools/errors.py)  -> ToolError with the same text; a refusal that carries a
                                 setting key gets the variable that changes it appended
pydantic ValidationError      -> ToolError, one `field: message` per problem (the JSON type the
                                 caller sent named, never the value)
anything else                 -> propagates: a bug; the SDK logs it with its traceback and
                                 tells the client only that the tool failed
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from genai_mcp.server.limits import VARIABLES
from genai_mcp.tools.errors import GenAIError, LimitExceededError, ModelUnavailableError

__all__ = ["MAX_PROBLEMS", "describe_validation_error", "error_text", "log_refusal", "tool_errors"]

logger = logging.getLogger(__name__)


def describe_validation_error(exc: ValidationError, known: Collection[str] = (), data: Any = None) -> str:
    """One line per problem, `field: message`, without echoing the caller's (possibly huge) values.

    A name no field has (pydantic's extra_forbidden) reads `unknown argument 'steps'; did you mean
    'max_steps'?` at the top level, the suggestion the closest of `known` (the tool's arguments);
    those come first. With `data` (what was validated), a location names only where the value is:
    the union member pydantic tried (a type or model name) is left out. At most MAX_PROBLEMS lines,
    then how many more there are.
    """
    unknown, others = [], []
    for err in exc.errors(include_url=False, include_input=True):
        loc = err["loc"] if data is None else _value_path(err["loc"], data, err["type"] == "missing")
        where = ".".join(str(p) for p in loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            if len(loc) == 1:
                unknown.append(_unknown_argument(str(loc[0]), known))
                continue
            msg = "unknown field"
        elif err["type"] == "model_type":
            msg = "Input should be an object"  # not "... or instance of <internal class name>"
        if err["type"] in _TYPE_ERRORS:
            msg += f", got {_json_type(err.get('input'))}"
        line = f"{_short(where)}: {msg}" if where else msg
        if line not in others:  # union members can fail alike
            others.append(line)
    lines = unknown + others
    if len(lines) > MAX_PROBLEMS:
        lines[MAX_PROBLEMS:] = [f"and {len(lines) - MAX_PROBLEMS} more problems"]
    return "invalid arguments: " + "; ".join(lines)


def _value_path(loc: tuple[int | str, ...], data: Any, missing: bool) -> tuple[int | str, ...]:
    """The parts of `loc` that are keys and indexes into `data` (and a missing field's name)."""
    path: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if inside:
            node = node[part]
        elif not (missing and i == len(loc) - 1):
            continue  # a union member's tag: not a place in the caller's value
        path.append(part)
    return tuple(path)


MAX_PROBLEMS = 10
_MAX_NAME_CHARS = 64
# Messages that say which type was expected get the JSON type that came instead.
_TYPE_ERRORS = {"int_type", "float_type", "bool_type", "string_type", "list_type", "dict_type", "model_type"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _unknown_argument(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown argument {_short(name)!r}; did you mean {close[0]!r}?"
    if not known:
        return f"unknown argument {_short(name)!r}; this tool takes no arguments"
    return f"unknown argument {_short(name)!r}; the arguments are {', '.join(sorted(known))}"


def _short(name: str) -> str:
    # Names come from the caller: a megabyte-long key is not echoed back whole.
    return name if len(name) <= _MAX_NAME_CHARS else name[:_MAX_NAME_CHARS] + "…"


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
        log_refusal(type(exc).__name__, text, exc.setting, warn=isinstance(exc, ModelUnavailableError))
        raise ToolError(text) from exc
    except ValidationError as exc:
        text = describe_validation_error(exc)
        log_refusal("ValidationError", text, None)
        raise ToolError(text) from exc


def log_refusal(kind: str, text: str, setting: str | None, *, warn: bool = False) -> None:
    # Clients that asked for logs get it too (server/client_logs.py). A missing model is the
    # operator's to fix (a warning); a refused input is the caller's (info).
    level = logging.WARNING if warn else logging.INFO
    extra = {"figures": {"error": kind, "setting": setting}, "refusal": not warn}
    logger.log(level, "refused: %s", text, extra=extra)
