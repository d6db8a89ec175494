"""Streamable HTTP: the SDK's app in its default stateful SSE mode, guarded, plus GET /health.

Stateful SSE is the only mode in which progress, logs, cancellation and legacy push requests all
work (json_response and stateless modes drop some of them), so it is not configurable here.
"""

from __future__ import annotations

import logging

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from genai_mcp.server.settings import ServerSettings, SettingsError, is_loopback

__all__ = ["build_http_app", "check_bind", "public_url", "transport_security"]

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


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


def build_http_app(settings: ServerSettings) -> Starlette:
    """The ASGI app for `settings` (auth on when tokens are configured)."""
    from genai_mcp.server.app import create_server

    server = create_server(settings, http=True)
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=False,
        stateless_http=False,
        transport_security=transport_security(settings),
        host=settings.host,
    )
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
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), lifespan="on"
    )
    uvicorn.Server(config).run()
