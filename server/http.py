"""Streamable HTTP: the SDK's app in its default stateful SSE mode, guarded, plus GET /health.

Stateful SSE is the only mode in which progress, logs, cancellation and legacy push requests all
work (json_response and stateless modes drop some of them), so it is not configurable here. Its SSE
streams are resumable: a bounded event store (server/event_store.py) keeps what each stream sent,
and a client that lost a stream asks for the rest with `GET /mcp` and `Last-Event-ID`.

Request bodies are limited to what the largest input a tool accepts needs (server/limits.py,
request_body_limit; GENAI_MCP_MAX_REQUEST_BYTES). The SDK enforces the limit and answers a bigger
body with a bare `413 Request body too large`; BodyTooLarge rewrites that into a JSON-RPC error
naming the limit and the setting, which MCP clients show as the call's error.
"""

from __future__ import annotations

import logging

from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INVALID_REQUEST
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genai_mcp.server.asgi import json_response, replacing
from genai_mcp.server.event_store import BoundedEventStore, SessionScopes
from genai_mcp.server.limits import BodyLimit, request_body_limit, variable
from genai_mcp.server.settings import ServerSettings, SettingsError, is_loopback

__all__ = ["BodyTooLarge", "build_http_app", "check_bind", "event_store", "public_url", "transport_security"]

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
MCP_PATH = "/mcp"


def public_url(settings: ServerSettings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def check_bind(settings: ServerSettings) -> None:
    """Refuse to expose an unauthenticated server beyond this machine."""
    if not is_loopback(settings.host) and not settings.tokens and not settings.allow_unauthenticated:
        raise SettingsError(
            f"refusing to listen on {settings.host} without a bearer token: set GENAI_MCP_TOKENS or "
            "--token-file, or pass --allow-unauthenticated to serve without authentication on purpose"
        )


def transport_security(settings: ServerSettings) -> TransportSecuritySettings:
    """Host/Origin checks against DNS rebinding, always on.

    The SDK switches them off for any non-loopback bind; here they stay on, allowing loopback,
    the bind address itself and whatever the operator lists (GENAI_MCP_ALLOWED_HOSTS/ORIGINS).
    """
    hosts = list(LOOPBACK_HOSTS)
    if settings.host not in ("0.0.0.0", "::") and not is_loopback(settings.host):
        hosts.append(f"{settings.host}:*")
    hosts += settings.allowed_hosts
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    origins += settings.allowed_origins
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def event_store(settings: ServerSettings) -> BoundedEventStore:
    """The event store of one HTTP app, bounded as `settings` say."""
    return BoundedEventStore(
        max_events=settings.event_store_max_events,
        max_stream_events=settings.event_store_max_stream_events,
        max_bytes=settings.event_store_max_bytes,
        max_age_seconds=settings.event_store_max_age_seconds,
    )


class BodyTooLarge:
    """ASGI middleware around the SDK's app: its 413s on `path` (a body over `limit`), as JSON-RPC errors.

    The error (id null, code -32600) says how big the body was when the request declared it, the
    limit, what set it, and how to send the call instead; `data` carries the limit and the setting.
    Everything else passes through untouched.
    """

    def __init__(self, app: ASGIApp, limit: BodyLimit, path: str):
        self.app = app
        self.limit = limit
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        size = int(declared) if declared.isdigit() else None

        async def refusal(_: Message) -> None:
            await self._refuse(send, size)

        await self.app(scope, receive, replacing(send, 413, refusal))

    def _message(self, size: int | None) -> str:
        limit = self.limit.bytes
        body = "the request body" if size is None else f"the request body ({size} bytes)"
        setting = variable("max_request_bytes")
        return (
            f"{body} is over the server's limit of {limit} bytes ({limit / 2**20:.1f} MiB) on one HTTP "
            f"request ({setting}, {self.limit.basis}). Send large images as file paths under the server's "
            f"roots, split the call, or start the server with a larger {setting}"
        )

    async def _refuse(self, send: Send, size: int | None) -> None:
        data = {"limit": self.limit.bytes, "setting": variable("max_request_bytes")}
        if size is not None:
            data["size"] = size
        error = {"code": INVALID_REQUEST, "message": self._message(size), "data": data}
        await json_response(send, 413, {"jsonrpc": "2.0", "id": None, "error": error})


def build_http_app(settings: ServerSettings) -> Starlette:
    """The ASGI app for `settings` (auth on when tokens are configured)."""
    from genai_mcp.server.app import create_server

    server = create_server(settings, http=True)
    store = event_store(settings)
    limit = request_body_limit(settings)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=False,
        stateless_http=False,
        event_store=store,
        retry_interval=settings.sse_retry_ms,
        max_request_body_size=limit.bytes,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    app.add_middleware(SessionScopes, store=store)
    app.add_middleware(BodyTooLarge, limit=limit, path=MCP_PATH)
    auth = server.settings.auth
    if auth is not None and auth.resource_server_url is not None:
        from genai_mcp.server.auth import BearerChallenges

        # Outermost, so it sees the 401s of the SDK's auth middleware.
        app.add_middleware(BearerChallenges, resource_server_url=auth.resource_server_url)
    return app


def serve_http(settings: ServerSettings) -> None:
    import uvicorn

    check_bind(settings)
    app = build_http_app(settings)
    auth = f"bearer auth ({len(settings.tokens)} token(s))" if settings.tokens else "NO authentication"
    logger.info("genai-mcp on %s/mcp with %s", public_url(settings), auth)
    if not settings.request_state_keys:
        logger.warning(
            "no GENAI_MCP_REQUEST_STATE_KEYS: request state is sealed with a key of this process only, so "
            "behind a load balancer a sampling or elicitation round that reaches another replica (or this "
            "one after a restart) fails with 'Invalid or expired requestState'"
        )
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), lifespan="on"
    )
    uvicorn.Server(config).run()
