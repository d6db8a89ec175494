"""The seam between MCP and genai_mcp.tools: errors in, flat tool signatures out.

A tools/ function takes one pydantic request model and returns a pydantic result. MCP clients
(and the LLMs behind them) work best with flat arguments, so `register_model_tool` publishes the
request model's fields as the tool's parameters (descriptions, defaults and constraints intact),
rebuilds the request from them, and maps the domain's error family onto ToolError.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ValidationError

from genai_mcp.server.longwork import OnStep, run_with_progress
from genai_mcp.tools.errors import GenAIError

__all__ = [
    "describe_validation_error",
    "flat_signature",
    "register_long_tool",
    "register_model_tool",
    "tool_errors",
]

logger = logging.getLogger(__name__)

RequestT = TypeVar("RequestT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, `field: message`, without echoing the caller's (possibly huge) values."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "invalid arguments: " + "; ".join(lines)


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn expected failures into ToolError (whose text reaches the client); let bugs through.

    Anything else propagates: the SDK logs it with a traceback and tells the client only that the
    tool failed, which is right for a bug.
    """
    try:
        yield
    except GenAIError as exc:
        raise ToolError(str(exc)) from exc
    except ValidationError as exc:
        raise ToolError(describe_validation_error(exc)) from exc


def flat_signature(request_model: type[BaseModel], result_model: type[BaseModel]) -> inspect.Signature:
    params = []
    for name, field in request_model.model_fields.items():
        # Default travels on the Parameter; the FieldInfo keeps description and constraints.
        info = field._copy()
        default = (
            inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        )
        info.default = ...
        info.default_factory = None
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[field.annotation, info],
            )
        )
    return inspect.Signature(params, return_annotation=result_model)


def register_model_tool(
    server: MCPServer[Any],
    fn: Callable[[RequestT], ResultT],
    request_model: type[RequestT],
    result_model: type[ResultT],
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
) -> None:
    """Publish `fn(request) -> result` as the MCP tool `name` with flat, documented arguments.

    The function runs in a worker thread (the SDK does that for sync callables), so slow domain
    code never blocks the event loop.
    """

    @functools.wraps(fn)
    def adapter(**kwargs: Any) -> ResultT:
        with tool_errors():
            return fn(request_model(**kwargs))

    del adapter.__wrapped__  # inspect.signature must see the flat signature, not fn's
    adapter.__signature__ = flat_signature(request_model, result_model)  # type: ignore[attr-defined]
    adapter.__annotations__ = {}
    server.add_tool(adapter, name=name, title=title, description=description, annotations=annotations)


def register_long_tool(
    server: MCPServer[Any],
    fn: Callable[[Any, OnStep], BaseModel],
    request_model: type[BaseModel],
    result_model: type[BaseModel],
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
) -> None:
    """Like register_model_tool (flat arguments, errors mapped to ToolError), for a
    `fn(request, on_step)` that runs in a worker thread with progress and cancellation
    (server/longwork.py)."""

    async def tool(ctx: Context[Any], **kwargs: Any) -> BaseModel:
        with tool_errors():
            request = request_model(**kwargs)
            return await run_with_progress(ctx, functools.partial(fn, request))

    flat = flat_signature(request_model, result_model)
    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    tool.__signature__ = flat.replace(parameters=[*flat.parameters.values(), context])  # type: ignore[attr-defined]
    # The SDK finds the Context parameter through the annotations, the arguments through the signature.
    tool.__annotations__ = {"ctx": Context, "return": result_model}
    tool.__name__ = tool.__qualname__ = name
    server.add_tool(tool, name=name, title=title, description=description, annotations=annotations)
