"""One server connection, owned by its own task from connect to close.

anyio cancel scopes must be exited by the task that entered them, so each connection enters its
transport and `mcp.Client` inside one task (`Connection._run`) and leaves them there too: any
server can then be closed, or can die, without disturbing the others (the SDK reference, §8C).
The read stream is watched, so a server whose process exits is noticed at once, not at the next call.
A stdio server's stderr goes to the host's stderr or, with `stderr: file`, to `<log dir>/<name>.log`;
then a failure or death names that file and keeps the lines this run wrote last (`stderr_tail`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import anyio
import httpx2
from mcp import Client, MCPDeprecationWarning, MCPError, StdioServerParameters
from mcp.client._transport import ReadStream, Transport, TransportStreams
from mcp.client.session import ElicitationFnT, LoggingFnT, SamplingFnT
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED, Implementation

from genai_mcp.client.config import ServerConfig

__all__ = ["Callbacks", "Connection", "ServerState", "ServerStatus", "default_log_dir", "describe_error"]

logger = logging.getLogger("genai_mcp.client")

_TAIL_LINES = 20  # of a stdio server's stderr file, kept when it fails or dies: a traceback's end


class ServerState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"  # never connected: bad command, refused, timed out
    DEAD = "dead"  # was connected, then the process exited or the connection broke
    DISCONNECTED = "disconnected"  # closed on purpose


@dataclass(frozen=True)
class ServerStatus:
    """Where one configured server stands; `error` says why when it is failed or dead."""

    name: str
    state: ServerState
    transport: str
    error: str | None = None
    protocol_version: str | None = None
    server_info: str | None = None
    stderr_log: Path | None = None  # where a stdio server with `stderr: file` writes its stderr
    stderr_tail: tuple[str, ...] = ()  # its last lines from this run, when it failed or died


@dataclass(frozen=True)
class Callbacks:
    sampling: SamplingFnT | None
    elicitation: ElicitationFnT | None
    logging: LoggingFnT | None


class _WatchedReadStream:
    """Passes every message through and calls `on_close` once when the stream ends."""

    def __init__(self, inner: ReadStream[Any], on_close: Callable[[], None]):
        self._inner, self._on_close = inner, on_close

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_close()
            raise

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:  # e.g. `last_context`, read by the SDK's dispatcher
        return getattr(self._inner, name)


@asynccontextmanager
async def _watched(inner: Transport, on_close: Callable[[], None]) -> AsyncIterator[TransportStreams]:
    async with inner as (read, write):
        watched: Any = _WatchedReadStream(read, on_close)
        yield watched, write


def default_log_dir() -> Path:
    """Where stdio servers' stderr files go by default: `$XDG_STATE_HOME/genai-mcp/servers`."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "genai-mcp" / "servers"


def _tail(path: Path, offset: int, lines: int = _TAIL_LINES) -> tuple[str, ...]:
    """The last `lines` non-empty lines written to `path` after `offset` (empty if unreadable)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line for line in text.splitlines() if line.strip())[-lines:]


def _real_file(stream: TextIO) -> TextIO:
    """`stream` if the child can inherit it, else the process's own stderr (Jupyter, pytest's capsys)."""
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):
        return sys.__stderr__ or stream
    return stream


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _closed_reason(config: ServerConfig) -> str:
    if config.transport == "stdio":
        where = "" if config.stderr_mode == "file" else "; see its stderr"  # a file is named apart
        return f"the server closed the connection (its process exited or crashed{where})"
    return f"the connection to {config.url} closed"


def describe_error(exc: BaseException, config: ServerConfig, http_status: int | None = None) -> str:
    """A one-line reason a user can act on, from whatever the transport or SDK raised."""
    leaves = [e for e in _leaves(exc) if not isinstance(e, anyio.get_cancelled_exc_class())] or [exc]
    leaf = leaves[0]
    where = config.command if config.transport == "stdio" else config.url
    if http_status is not None:
        hint = " (check the token in 'headers')" if http_status in (401, 403) else ""
        return f"HTTP {http_status} from {where}{hint}"
    if isinstance(leaf, OSError) and config.transport == "stdio":
        return f"cannot start {where!r}: {leaf.strerror or leaf}"
    if isinstance(leaf, httpx2.HTTPError):
        return f"cannot reach {where}: {leaf}"
    if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
        return _closed_reason(config)
    return f"{type(leaf).__name__}: {leaf}"


class Connection:
    """A configured server and, while connected, its `mcp.Client`."""

    def __init__(
        self,
        name: str,
        config: ServerConfig,
        callbacks: Callbacks,
        *,
        errlog: TextIO | None = None,
        log_dir: Path | None = None,
        on_change: Callable[[ServerStatus], None] = lambda status: None,
        client_info: Implementation | None = None,
    ):
        self.name, self.config, self.callbacks = name, config, callbacks
        self.client: Client | None = None
        self.state = ServerState.DISCONNECTED
        self.error: str | None = None
        self.restart_lock = anyio.Lock()
        self._errlog, self._on_change, self._client_info = errlog, on_change, client_info
        self.stderr_log: Path | None = None
        if config.transport == "stdio" and config.stderr_mode == "file":
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
            self.stderr_log = (log_dir or default_log_dir()) / f"{safe}.log"
        self._log_start = 0  # where this run's stderr begins in stderr_log
        self._stderr_tail: tuple[str, ...] = ()
        self._protocol: str | None = None
        self._server_info: str | None = None
        self._wake, self._ready, self._done = anyio.Event(), anyio.Event(), anyio.Event()
        self._done.set()
        self._scope = anyio.CancelScope()
        self._stopping = self._timed_out = False
        self._dead_reason: str | None = None
        self._call_reason: str | None = None
        self._http_status: int | None = None

    def status(self) -> ServerStatus:
        return ServerStatus(
            self.name,
            self.state,
            self.config.transport,
            self.error,
            self._protocol,
            self._server_info,
            self.stderr_log,
            self._stderr_tail,
        )

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def _set(self, state: ServerState, error: str | None = None) -> None:
        self.state, self.error = state, error
        self._on_change(self.status())

    async def start(self, tg: anyio.abc.TaskGroup) -> ServerStatus:
        """Connect in a new task of `tg`; returns once connected, failed, or out of connect_timeout."""
        await self._done.wait()  # a dying run must finish closing before the next one starts
        self._wake, self._ready, self._done = anyio.Event(), anyio.Event(), anyio.Event()
        self._stopping = self._timed_out = False
        self._dead_reason = self._call_reason = None
        self._http_status = None
        self._scope = anyio.CancelScope()
        self._protocol = self._server_info = None
        self._stderr_tail = ()
        self._set(ServerState.CONNECTING)
        tg.start_soon(self._run, name=f"mcp-connection-{self.name}")
        with anyio.move_on_after(self.config.connect_timeout):
            await self._ready.wait()
        if not self._ready.is_set():
            self._timed_out = True
            self._scope.cancel()
            await self._done.wait()
        return self.status()

    async def stop(self) -> None:
        """Close the connection (the SDK stops a stdio process, killing it if it lingers)."""
        if self.running:
            self._stopping = True
            if self.state is ServerState.CONNECTING:
                self._scope.cancel()
            self._wake.set()
            await self._done.wait()
        self._set(ServerState.DISCONNECTED)

    def mark_dead(self, reason: str) -> None:
        """A call found the connection broken: close it; the next call reconnects."""
        if self.running and self.state is ServerState.CONNECTED and not self._stopping:
            self._call_reason = self._call_reason or reason
            self._wake.set()

    async def wait_closed(self) -> None:
        await self._done.wait()

    def _on_stream_closed(self) -> None:
        if not self._stopping and self._dead_reason is None:
            self._dead_reason = _closed_reason(self.config)
            self._wake.set()

    async def _record_status(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self._http_status = response.status_code

    async def _open(self, stack: AsyncExitStack) -> Transport:
        config = self.config
        if config.command is not None:
            params = StdioServerParameters(
                command=config.command,
                args=config.args,
                env={k: v.get_secret_value() for k, v in config.env.items()} or None,
                cwd=Path(config.cwd).expanduser() if config.cwd else None,
            )
            inner: Transport = stdio_client(params, errlog=self._stderr_file(stack))
        else:
            assert config.url is not None
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers={k: v.get_secret_value() for k, v in config.headers.items()},
                    timeout=httpx2.Timeout(30.0, read=300.0),
                    follow_redirects=True,
                    event_hooks={"response": [self._record_status]},
                )
            )
            inner = streamable_http_client(config.url, http_client=http)
        return _watched(inner, self._on_stream_closed)

    def _stderr_file(self, stack: AsyncExitStack) -> TextIO:
        """The stdio child's stderr: the host's, or this server's log file, opened for this run."""
        if self.stderr_log is None:
            return _real_file(self._errlog or sys.stderr)
        self.stderr_log.parent.mkdir(parents=True, exist_ok=True)
        log = stack.enter_context(self.stderr_log.open("a", encoding="utf-8"))
        log.write(f"--- {datetime.now().isoformat(timespec='seconds')} host starts {self.config.command}\n")
        log.flush()  # the child writes through its own descriptor, after this line
        self._log_start = log.tell()
        return log

    async def _configure_logging(self, client: Client) -> None:
        # 2026-07-28 servers take the level from each request's _meta (Client(log_level=...));
        # 2025-11-25 servers need logging/setLevel once, when they offer it.
        if client.protocol_version.startswith("2026") or client.server_capabilities.logging is None:
            return
        with warnings.catch_warnings():  # logging is deprecated by 2026-07-28; legacy servers use it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            try:
                await client.set_logging_level(self.config.log_level)
            except MCPError as exc:  # the level is a wish; messages are still filtered on arrival
                logger.debug("[%s] logging/setLevel refused: %s", self.name, exc)

    async def _run(self) -> None:
        failure: BaseException | None = None
        try:
            with self._scope:
                async with AsyncExitStack() as stack:
                    client = await stack.enter_async_context(
                        Client(
                            await self._open(stack),
                            mode=self.config.protocol,
                            sampling_callback=self.callbacks.sampling,
                            elicitation_callback=self.callbacks.elicitation,
                            logging_callback=self.callbacks.logging,
                            log_level=self.config.log_level,
                            client_info=self._client_info,
                        )
                    )
                    await self._configure_logging(client)
                    info = client.server_info
                    self._protocol = client.protocol_version
                    self._server_info = f"{info.name} {info.version}".strip() if info else None
                    self.client = client
                    self._set(ServerState.CONNECTED)
                    self._ready.set()
                    await self._wake.wait()
                    self.client = None
        except Exception as exc:
            failure = exc
        finally:
            self.client = None
            self._finish(failure)
            self._ready.set()
            self._done.set()

    def _finish(self, failure: BaseException | None) -> None:
        # The process has exited (the transport waited for it), so its stderr file is complete.
        if self.stderr_log is not None and not self._stopping:
            self._stderr_tail = _tail(self.stderr_log, self._log_start)
        if self._stopping:
            self._set(ServerState.DISCONNECTED)
        elif self._timed_out:
            self._set(
                ServerState.FAILED, self._named(f"did not connect within {self.config.connect_timeout:g} s")
            )
        elif self.state is ServerState.CONNECTING:
            why = (
                describe_error(failure, self.config, self._http_status)
                if failure
                else _closed_reason(self.config)
            )
            self._set(ServerState.FAILED, self._named(why))
        else:
            # The most specific reason wins: the stream ending, then what broke the connection task,
            # then what the failing call saw.
            reason = self._dead_reason
            if reason is None and failure is not None:
                reason = describe_error(failure, self.config, self._http_status)
            self._set(
                ServerState.DEAD, self._named(reason or self._call_reason or _closed_reason(self.config))
            )
        if failure is not None:
            logger.debug("[%s] connection ended with %r", self.name, failure)

    def _named(self, reason: str) -> str:
        return reason if self.stderr_log is None else f"{reason}; its stderr is in {self.stderr_log}"
