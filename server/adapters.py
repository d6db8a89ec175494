"""The one seam between MCP and genai_mcp.tools: every tool is published here.

A tools/ function takes one pydantic request model and returns a pydantic result. MCP clients
(and the LLMs behind them) work best with flat arguments, so the publisher offers the request
model's fields as the tool's parameters (descriptions, defaults and constraints intact, limits in
descriptions rendered with the live values), rebuilds the request from them, runs the work off
the event loop and maps the domain's errors onto ToolError (server/errors.py). Three shapes:

    tools.add(spec, fn)                 fn(request) -> result, in a worker thread
    tools.add_long(spec, fn)            fn(request, progress) -> result: progress per step,
                                        cancellation within one step (server/longwork.py)
    tools.add_resolving(spec, body, resolvers)
                                        resolvers (Resolve: sampling / elicitation rounds) get
                                        the validated request; `await body(request, ctx, **resolved)`

A spec's `content` hook turns the result into content blocks after its JSON (image previews,
resource links). Arguments that only the call has (a confirmation flag, how long to wait) are
fields of a request model that extends the domain's, never parameters written by hand.

Arguments are checked before anything runs (resolvers included), the same way for every tool:
- a name the tool does not have is refused, naming the closest one (`unknown argument 'steps';
  did you mean 'max_steps'?`), and so is a key a nested object does not have; resolved values
  are not arguments, and the request's `_meta` is not among them;
- JSON types are strict: a boolean only from true/false, an integer only from a JSON number
  with no fraction (3 or 3.0, not 3.5 or "3"), a number from any JSON number, a string only
  from a string, a literal only exactly; nested objects (chat messages, documents, labelled
  images) follow the same rule. The SDK's one leniency stays: a JSON array or object sent as
  a string where a string is not expected is read as that array or object;
- every problem is one `field: message` line (server/errors.py), never pydantic's model names.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import anyio.to_thread
import pydantic_core
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from genai_mcp.server.errors import describe_validation_error, log_refusal, tool_errors
from genai_mcp.server.longwork import run_with_progress
from genai_mcp.tools.limits import render
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.work import run_work

__all__ = ["Resolver", "ToolPublisher", "ToolSpec", "flat_signature"]

RequestT = TypeVar("RequestT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
Run = Callable[[Any, Context[Any], dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ToolSpec(Generic[RequestT, ResultT]):
    """What a client sees of a tool: name, texts, argument and result schemas, annotations.

    `{key}` placeholders in the description (and in the request fields' descriptions) name limits
    (`{vision.max_batch}`) and are replaced by their live values when the tool is published.
    """

    name: str
    title: str
    description: str
    request: type[RequestT]
    result: type[ResultT]
    annotations: ToolAnnotations
    content: Callable[[ResultT], Sequence[ContentBlock]] | None = None
    # An MCP Apps view (`ui://...`, server/apps.py) that hosts with the extension render the
    # result in; it goes into the tool's `_meta.ui.resourceUri`. Other hosts never read it.
    view: str | None = None

    def opening(self, open_world: bool) -> ToolSpec[RequestT, ResultT]:
        """This spec with openWorldHint set: whether a call may reach past this machine (hub
        downloads, URL fetches), which the operator's settings decide."""
        annotations = self.annotations.model_copy(update={"open_world_hint": open_world})
        return dataclasses.replace(self, annotations=annotations)


@dataclass(frozen=True)
class Resolver:
    """A value the tool body needs from before it runs, possibly through a round trip to the client.

    `fn(request, ctx, **needs)` returns the value, or a `Sample` / `Elicit` whose answer becomes the
    value. A sync `fn` runs in a worker thread, an async one on the event loop. `needs` names earlier
    resolvers whose values it takes. With `outcome`, consumers get the whole ElicitationResult
    (accepted, declined or cancelled) instead of the accepted data.
    """

    name: str
    fn: Callable[..., Any]
    needs: tuple[str, ...] = ()
    outcome: bool = False


def flat_signature(
    request_model: type[BaseModel], values: Mapping[str, object] | None = None
) -> list[inspect.Parameter]:
    """The request model's fields as keyword-only parameters; `{key}` limits in descriptions rendered."""
    params = []
    for name, model_field in request_model.model_fields.items():
        # The default travels on the Parameter; the FieldInfo keeps description and constraints.
        info = model_field._copy()
        default = (
            inspect.Parameter.empty
            if model_field.is_required()
            else model_field.get_default(call_default_factory=True)
        )
        info.default = ...
        info.default_factory = None
        if info.description is not None and values is not None:
            info.description = render(info.description, values)
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[model_field.annotation, info],
            )
        )
    return params


@dataclass
class ToolPublisher:
    """Publishes tools on `server`; `limits` are the live values `{key}` placeholders render to."""

    server: MCPServer[Any]
    limits: Mapping[str, object]
    specs: dict[str, ToolSpec[Any, Any]] = field(default_factory=dict)

    def add(self, spec: ToolSpec[RequestT, ResultT], fn: Callable[[RequestT], ResultT]) -> None:
        """`fn(request)` runs in a worker thread, so slow domain code never blocks the event loop
        (at the work priority: tools/work.py)."""

        async def run(request: Any, ctx: Context[Any], resolved: dict[str, Any]) -> Any:
            return await anyio.to_thread.run_sync(run_work, fn, request)

        self._publish(spec, run, ())

    def add_long(
        self, spec: ToolSpec[RequestT, ResultT], fn: Callable[[RequestT, Progress], ResultT]
    ) -> None:
        """`fn(request, progress)`: progress goes to the caller per step; a cancel stops it at the next."""

        async def run(request: Any, ctx: Context[Any], resolved: dict[str, Any]) -> Any:
            return await run_with_progress(ctx, lambda progress: fn(request, progress))

        self._publish(spec, run, ())

    def add_resolving(
        self,
        spec: ToolSpec[RequestT, ResultT],
        body: Callable[..., Awaitable[ResultT]],
        resolvers: Sequence[Resolver],
    ) -> None:
        """`await body(request, ctx, **resolved)` once every resolver has its value."""

        async def run(request: Any, ctx: Context[Any], resolved: dict[str, Any]) -> Any:
            return await body(request, ctx, **resolved)

        self._publish(spec, run, resolvers)

    def _publish(self, spec: ToolSpec[Any, Any], run: Run, resolvers: Sequence[Resolver]) -> None:
        request_model, fields = spec.request, list(spec.request.model_fields)
        consumed = self._markers(spec, resolvers)  # resolver name -> its Annotated[..., Resolve]

        async def tool(ctx: Context[Any], **kwargs: Any) -> Any:
            with tool_errors():
                request = request_model(**{k: kwargs[k] for k in fields})
                result = await run(request, ctx, {name: kwargs[name] for name in consumed})
            return self._reply(spec, result)

        returns: Any = Annotated[CallToolResult, spec.result] if spec.content else spec.result
        _sign(tool, spec.name, flat_signature(request_model, self.limits), consumed, returns)
        checked = _CheckedTool.from_function(
            tool,
            name=spec.name,
            title=spec.title,
            description=render(spec.description, self.limits),
            annotations=spec.annotations,
            meta={"ui": {"resourceUri": spec.view}} if spec.view else None,
        )
        _register(self.server, checked)
        self.specs[spec.name] = spec

    def _markers(self, spec: ToolSpec[Any, Any], resolvers: Sequence[Resolver]) -> dict[str, Any]:
        """`Annotated[..., Resolve(wrapper)]` per resolver, each wrapper rebuilding the request."""
        request_model, fields = spec.request, list(spec.request.model_fields)
        flat = flat_signature(request_model)
        markers: dict[str, Any] = {}
        for resolver in resolvers:
            needs = {n: markers[n] for n in resolver.needs}  # earlier resolvers only: no cycles
            wrapper = _resolver_wrapper(resolver, request_model, fields)
            # The wire key of a resolver round is module:qualname; keep it readable and per tool.
            _sign(wrapper, f"{spec.name}.{resolver.name}", flat, needs, inspect.Signature.empty)
            wrapper.__module__ = resolver.fn.__module__
            kind = ElicitationResult[Any] if resolver.outcome else Any
            markers[resolver.name] = Annotated[kind, Resolve(wrapper)]
        return markers

    @staticmethod
    def _reply(spec: ToolSpec[Any, Any], result: BaseModel) -> Any:
        if spec.content is None:
            return result
        data = result.model_dump(mode="json")
        content: list[ContentBlock] = [TextContent(type="text", text=json.dumps(data, indent=2))]
        content += spec.content(result)
        return CallToolResult(content=content, structured_content=data)


class _CheckedTool(Tool):
    """The SDK's Tool with the argument rules of the module docstring in front of its own (lax)
    validation, and the SDK's validation errors in the one-line form of server/errors.py."""

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        metadata = self.fn_metadata
        known = [info.alias or name for name, info in metadata.arg_model.model_fields.items()]
        # What the SDK validates next (its JSON-in-a-string leniency applied), as the JSON it came
        # in as (NaN and Infinity included), with strict types and no unknown names at any depth.
        parsed = _integral(metadata.pre_parse_json(arguments))
        try:
            as_json = pydantic_core.to_json(parsed, inf_nan_mode="constants")
            metadata.arg_model.model_validate_json(as_json, strict=True, extra="forbid")
        except ValidationError as exc:
            text = describe_validation_error(exc, known, parsed)
            log_refusal("ArgumentError", text, None)
            raise ToolError(f"Error executing tool {self.name}: {text}") from exc
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            # Only the SDK's own argument validation raises a plain ToolError straight from a
            # ValidationError (the tools' own come through tool_errors, crashes as UnexpectedToolError).
            cause = exc.__cause__
            if type(exc) is not ToolError or not isinstance(cause, ValidationError):
                raise
            text = describe_validation_error(cause, known, metadata.pre_parse_json(arguments))
            log_refusal("ArgumentError", text, None)
            raise ToolError(f"Error executing tool {self.name}: {text}") from cause


def _integral(value: Any) -> Any:
    """`value` with every integral float an int: JSON (and the published schema's "integer") does not
    tell 3.0 from 3, so neither does the strict check; 3.5 stays a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def _register(server: MCPServer[Any], tool: Tool) -> None:
    """Register `tool` as `server.add_tool` would. MCPServer builds its own Tool from a function and
    takes Tool objects only at construction (`tools=`), so this is the seam's one reach into the
    SDK's ToolManager."""
    manager = server._tool_manager
    if manager.get_tool(tool.name) is not None:
        raise ValueError(f"a tool named {tool.name!r} is already registered")
    manager._tools[tool.name] = tool


def _resolver_wrapper(resolver: Resolver, request_model: type[BaseModel], fields: list[str]) -> Any:
    def call(kwargs: dict[str, Any]) -> Any:
        request = request_model(**{k: kwargs[k] for k in fields})
        return resolver.fn(request, kwargs["ctx"], **{n: kwargs[n] for n in resolver.needs})

    # The SDK runs a sync resolver in a worker thread and awaits an async one: keep fn's kind.
    if inspect.iscoroutinefunction(resolver.fn):

        async def async_wrapper(**kwargs: Any) -> Any:
            with tool_errors():
                return await call(kwargs)

        return async_wrapper

    def sync_wrapper(**kwargs: Any) -> Any:
        with tool_errors():
            return run_work(call, kwargs)

    return sync_wrapper


def _sign(
    fn: Any, name: str, flat: list[inspect.Parameter], resolved: Mapping[str, Any], returns: Any
) -> None:
    """Give `fn` the signature the SDK reads: flat arguments, the Context, the resolved values."""
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=a) for n, a in resolved.items()]
    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    fn.__signature__ = inspect.Signature([*flat, *extra, context], return_annotation=returns)
    # The SDK finds the Context and the Resolve markers through the annotations, arguments through
    # the signature.
    fn.__annotations__ = {"ctx": Context, **resolved, "return": returns}
    fn.__name__ = fn.__qualname__ = name
