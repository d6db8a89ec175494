"""The host: many MCP servers behind one object, their tools and prompts named `server.name`.

    async with Host.from_config("mcp.json") as host:
        for tool in await host.list_tools():
            print(tool.name)                                  # e.g. "genai.text_metrics"
        result = await host.call_tool("genai.text_metrics", {...}, progress=on_progress, timeout=60)

Servers connect concurrently on entry; one that cannot start is reported (`host.servers`, a warning
on the `genai_mcp.client` logger, the `on_status` hook) and skipped. A server that dies is reported
the same way, the call in flight fails with ServerUnavailableError, and the next call to it
reconnects. On exit every connection is closed and every stdio process is stopped.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, TypeVar

import anyio
import anyio.abc
import httpx2
from mcp import Client, MCPError
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import (
    CONNECTION_CLOSED,
    CallToolResult,
    GetPromptResult,
    Implementation,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
)

from genai_mcp.client.catalog import HostPrompt, HostResource, HostResourceTemplate, HostTool, pages
from genai_mcp.client.config import HostConfig, load_config
from genai_mcp.client.connection import Callbacks, Connection, ServerState, ServerStatus, describe_error
from genai_mcp.client.elicitation import make_elicitation_callback
from genai_mcp.client.errors import (
    AmbiguousNameError,
    CallTimeoutError,
    HostError,
    ServerUnavailableError,
    UnknownNameError,
)
from genai_mcp.client.sampling import SamplingApprover, make_sampling_callback
from genai_mcp.client.server_logs import make_logging_callback
from genai_mcp.client.terminal import Terminal

__all__ = ["Host", "HostPrompt", "HostResource", "HostResourceTemplate", "HostTool"]

logger = logging.getLogger("genai_mcp.client")
T = TypeVar("T")


def stderr_tail(status: ServerStatus) -> str:
    """The last lines of a failed or dead server's stderr file, indented on lines of their own."""
    if not status.stderr_tail:
        return ""
    return "; it ended with:\n" + "\n".join(f"    {line}" for line in status.stderr_tail)


# How long a failing call waits for its connection to finish closing, to report the real reason.
_CLOSE_REPORT_WAIT = 5.0


class Host:
    """Connects to the configured MCP servers and answers their sampling, elicitation and log messages.

    `servers` limits the host to some configured names; `terminal` is where human prompts go
    (stdin/stderr by default); `approver` sees every sampling request first and may refuse it;
    `errlog` receives the stderr of stdio servers whose `stderr` is `inherit` (a real file; default
    sys.stderr); `log_dir` holds `<name>.log` for those whose `stderr` is `file` (default
    `$XDG_STATE_HOME/genai-mcp/servers`); `on_status` is called on every state change of every server.
    """

    def __init__(
        self,
        config: HostConfig,
        *,
        servers: Iterable[str] | None = None,
        terminal: Terminal | None = None,
        approver: SamplingApprover | None = None,
        errlog: TextIO | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        on_status: Callable[[ServerStatus], None] | None = None,
    ):
        self.config = config
        self.terminal = terminal or Terminal()
        self._on_status = on_status
        enabled = {name: c for name, c in config.servers.items() if not c.disabled}
        wanted = list(servers) if servers is not None else list(enabled)
        for name in wanted:
            if name not in config.servers:
                raise UnknownNameError(
                    f"no server named {name!r} in the config (configured: {_names(config)})"
                )
        info = Implementation(name="genai-mcp-host", version=_version())
        self._conns = {
            name: Connection(
                name,
                cfg,
                Callbacks(
                    sampling=make_sampling_callback(name, cfg.sampling, self.terminal, approver),
                    elicitation=make_elicitation_callback(name, cfg.elicitation, self.terminal),
                    logging=make_logging_callback(name, cfg.log_level),
                ),
                errlog=errlog,
                log_dir=Path(log_dir) if log_dir is not None else None,
                on_change=self._report,
                client_info=info,
            )
            for name, cfg in config.servers.items()
            if name in wanted
        }
        self._tg: anyio.abc.TaskGroup | None = None

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Host:
        """A host for a JSON config file or dict (see genai_mcp.client.config); `env` feeds `${VAR}`."""
        return cls(load_config(source, env=env), **kwargs)

    # Lifecycle

    async def __aenter__(self) -> Host:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        async with anyio.create_task_group() as connecting:
            for conn in self._conns.values():
                connecting.start_soon(conn.start, self._tg)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        try:
            with anyio.move_on_after(30, shield=True):
                async with anyio.create_task_group() as closing:
                    for conn in self._conns.values():
                        closing.start_soon(conn.stop)
        finally:
            # Every connection task has ended (or is cancelled here, past the grace period); the body's
            # own exception, if any, propagates unwrapped instead of inside an ExceptionGroup.
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None

    def _report(self, status: ServerStatus) -> None:
        tagged = {"server_status": status}  # lets a handler that reports statuses itself skip these
        if status.state is ServerState.CONNECTED:
            logger.info(
                "[%s] connected: %s, protocol %s",
                status.name,
                status.server_info,
                status.protocol_version,
                extra=tagged,
            )
        elif status.state is ServerState.FAILED:
            logger.warning(
                "[%s] could not connect: %s%s", status.name, status.error, stderr_tail(status), extra=tagged
            )
        elif status.state is ServerState.DEAD:
            logger.warning(
                "[%s] died: %s; the next call reconnects it%s",
                status.name,
                status.error,
                stderr_tail(status),
                extra=tagged,
            )
        if self._on_status is not None:
            self._on_status(status)

    @property
    def servers(self) -> dict[str, ServerStatus]:
        """Every server this host manages, by name, with its state and (if any) why it is down."""
        return {name: conn.status() for name, conn in self._conns.items()}

    async def connect(self, name: str) -> ServerStatus:
        """(Re)connect one server, e.g. after `disconnect`; returns its status (check `.state`)."""
        conn = self._conn(name)
        async with conn.restart_lock:
            if conn.state is not ServerState.CONNECTED:
                await conn.start(self._started())
        return conn.status()

    async def disconnect(self, name: str) -> None:
        """Close one server's connection (any server, in any order); the others keep working."""
        await self._conn(name).stop()

    def client(self, name: str) -> Client:
        """The connected `mcp.Client` of one server, for what this class does not wrap."""
        conn = self._conn(name)
        if conn.client is None:
            raise ServerUnavailableError(
                name, f"server {name!r} is {conn.state}: {conn.error or 'not connected'}"
            )
        return conn.client

    # Routing

    def _started(self) -> anyio.abc.TaskGroup:
        if self._tg is None:
            raise HostError("the host is not running; use `async with Host.from_config(...) as host:`")
        return self._tg

    def _conn(self, name: str) -> Connection:
        if name not in self._conns:
            if name in self.config.servers:
                raise UnknownNameError(f"server {name!r} is disabled in the config or not selected")
            raise UnknownNameError(f"no server named {name!r} (configured: {_names(self.config)})")
        return self._conns[name]

    def _split(self, qualified: str, kind: str) -> tuple[Connection, str]:
        server, dot, name = qualified.partition(".")
        if not dot or not name:
            raise UnknownNameError(
                f"{kind} name {qualified!r} must be 'server.{kind}' (servers: {_names(self.config)})"
            )
        return self._conn(server), name

    async def _ready(self, conn: Connection) -> Client:
        if conn.client is not None and conn.state is ServerState.CONNECTED:
            return conn.client
        tg = self._started()
        if conn.state is ServerState.DISCONNECTED:
            raise ServerUnavailableError(
                conn.name, f"server {conn.name!r} is disconnected; host.connect({conn.name!r}) reconnects it"
            )
        async with conn.restart_lock:
            if conn.state is not ServerState.CONNECTED:
                logger.info("[%s] reconnecting (was %s: %s)", conn.name, conn.state, conn.error)
                await conn.start(tg)
        if conn.client is None:
            raise ServerUnavailableError(conn.name, f"server {conn.name!r} is unavailable: {conn.error}")
        return conn.client

    async def _request(
        self,
        conn: Connection,
        what: str,
        send: Callable[[Client], Awaitable[T]],
        timeout: float | None = None,
    ) -> T:
        client = await self._ready(conn)
        try:
            if timeout is None:
                return await send(client)
            with anyio.fail_after(timeout):
                return await send(client)
        except TimeoutError:
            raise CallTimeoutError(f"{what} did not finish within {timeout:g} s; it was cancelled") from None
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise
            raise await self._broken(conn, what, exc) from None
        except (httpx2.HTTPError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise await self._broken(conn, what, exc) from None

    async def _broken(self, conn: Connection, what: str, exc: BaseException) -> ServerUnavailableError:
        conn.mark_dead(describe_error(exc, conn.config))
        with anyio.move_on_after(_CLOSE_REPORT_WAIT):
            await conn.wait_closed()
        if conn.state is ServerState.DISCONNECTED:
            return ServerUnavailableError(conn.name, f"server {conn.name!r} was disconnected during {what}")
        return ServerUnavailableError(
            conn.name, f"server {conn.name!r} died during {what}: {conn.error}; the next call reconnects it"
        )

    async def _each(self, what: str, send: Callable[[Client], Awaitable[list[T]]]) -> dict[str, list[T]]:
        """`send` on every connected server at once; a server that fails is reported and left out."""
        results: dict[str, list[T]] = {}

        async def one(conn: Connection) -> None:
            try:
                results[conn.name] = await self._request(conn, what, send)
            except (HostError, MCPError) as exc:
                logger.warning("[%s] %s failed: %s", conn.name, what, exc)

        async with anyio.create_task_group() as tg:
            for conn in self._conns.values():
                if conn.state is ServerState.CONNECTED:
                    tg.start_soon(one, conn)
        return {name: results[name] for name in self._conns if name in results}

    # Tools, prompts, resources

    async def list_tools(self) -> list[HostTool]:
        """Every tool of every connected server, named `server.tool`, in config order."""

        async def send(client: Client) -> list[Tool]:
            return await pages(lambda cursor: client.list_tools(cursor=cursor), lambda r: r.tools)

        listed = await self._each("tools/list", send)
        return [HostTool(f"{s}.{t.name}", s, t) for s, tools in listed.items() for t in tools]

    async def find_tool(self, name: str) -> HostTool:
        """The tool `server.tool` as its server lists it now (schemas, annotations).

        Raises UnknownNameError when the server lists no such tool, naming the closest ones.
        """
        conn, tool = self._split(name, "tool")

        async def send(client: Client) -> list[Tool]:
            return await pages(lambda cursor: client.list_tools(cursor=cursor), lambda r: r.tools)

        listed = await self._request(conn, "tools/list", send, conn.config.timeout)
        for found in listed:
            if found.name == tool:
                return HostTool(name, conn.name, found)
        close = difflib.get_close_matches(tool, [t.name for t in listed], n=3)
        if close:
            hint = "did you mean " + " or ".join(repr(f"{conn.name}.{c}") for c in close) + "?"
        else:
            hint = f"it has {len(listed)}: " + ", ".join(t.name for t in listed[:20])
            hint += ", ..." if len(listed) > 20 else ""
        raise UnknownNameError(f"server {conn.name!r} has no tool {tool!r}; {hint}")

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        progress: ProgressFnT | None = None,
        timeout: float | None = None,
    ) -> CallToolResult:
        """Call `server.tool`. A tool that fails returns `is_error=True`; it does not raise.

        `progress(progress, total, message)` is awaited for each progress report; `timeout` is
        seconds for the whole call, callbacks included (default: the server's `timeout` setting,
        else none); past it the call is cancelled and CallTimeoutError raised.
        Raises UnknownNameError, ServerUnavailableError, CallTimeoutError, or mcp.MCPError when
        the server rejects the request.
        """
        conn, tool = self._split(name, "tool")
        args = dict(arguments or {})
        return await self._request(
            conn,
            f"the call to {name}",
            lambda client: client.call_tool(tool, args, progress_callback=progress),
            timeout if timeout is not None else conn.config.timeout,
        )

    async def list_prompts(self) -> list[HostPrompt]:
        async def send(client: Client) -> list[Prompt]:
            if client.server_capabilities.prompts is None:
                return []
            return await pages(lambda cursor: client.list_prompts(cursor=cursor), lambda r: r.prompts)

        listed = await self._each("prompts/list", send)
        return [HostPrompt(f"{s}.{p.name}", s, p) for s, prompts in listed.items() for p in prompts]

    async def get_prompt(self, name: str, arguments: Mapping[str, str] | None = None) -> GetPromptResult:
        """The messages of prompt `server.prompt`, filled with `arguments`."""
        conn, prompt = self._split(name, "prompt")
        args = dict(arguments or {})
        return await self._request(
            conn, f"the prompt {name}", lambda client: client.get_prompt(prompt, args), conn.config.timeout
        )

    async def list_resources(self) -> list[HostResource]:
        async def send(client: Client) -> list[Resource]:
            if client.server_capabilities.resources is None:
                return []
            return await pages(lambda cursor: client.list_resources(cursor=cursor), lambda r: r.resources)

        listed = await self._each("resources/list", send)
        return [HostResource(s, r) for s, resources in listed.items() for r in resources]

    async def list_resource_templates(self) -> list[HostResourceTemplate]:
        async def send(client: Client) -> list[ResourceTemplate]:
            if client.server_capabilities.resources is None:
                return []
            return await pages(
                lambda cursor: client.list_resource_templates(cursor=cursor), lambda r: r.resource_templates
            )

        listed = await self._each("resources/templates/list", send)
        return [HostResourceTemplate(s, t) for s, templates in listed.items() for t in templates]

    async def read_resource(self, uri: str, *, server: str | None = None) -> ReadResourceResult:
        """Read `uri` from `server`, or from the one connected server that lists it or a matching template.

        Without `server`, a URI that several servers offer raises AmbiguousNameError (its `servers`).
        """
        if server is None:
            server = await self._owner(uri)
        conn = self._conn(server)
        return await self._request(
            conn, f"the read of {uri}", lambda client: client.read_resource(uri), conn.config.timeout
        )

    async def _owner(self, uri: str) -> str:
        owners = {r.server for r in await self.list_resources() if r.uri == uri}
        if not owners:
            owners = {t.server for t in await self.list_resource_templates() if t.matches(uri)}
        if len(owners) == 1:
            return owners.pop()
        if not owners:
            raise UnknownNameError(f"no connected server lists resource {uri!r}; name the server")
        names = sorted(owners)
        raise AmbiguousNameError(
            f"resource {uri!r} is offered by {', '.join(names)}; name the server: "
            f"read_resource({uri!r}, server={names[0]!r})",
            names,
        )


def _names(config: HostConfig) -> str:
    return ", ".join(config.servers) or "none"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-mcp")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"
