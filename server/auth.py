"""Static bearer tokens for streamable HTTP, checked through the SDK's TokenVerifier seam.

Tokens are compared as SHA-256 digests with `hmac.compare_digest` against every configured token
(no early exit), so timing reveals neither a prefix nor which token matched. Tokens are never
logged: the AccessToken's client id is the token's position in the configuration.

The SDK answers every unauthenticated request with the same 401 (`error="invalid_token"`,
"Authentication required"). BearerChallenges tells the two cases apart, as RFC 6750 section 3.1
asks: a request with no bearer token gets a challenge with no error code and a body saying a token
is required; a token that is not valid gets `error="invalid_token"` and a body saying so. Both
keep `resource_metadata` (RFC 9728).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl, SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genai_mcp.server.asgi import json_response, replacing
from genai_mcp.server.settings import MIN_TOKEN_LENGTH

__all__ = ["BearerChallenges", "StaticTokenVerifier", "auth_settings"]


class StaticTokenVerifier:
    """Accepts exactly the configured tokens (any scope, no expiry).

    ServerSettings already refuses short tokens with a SettingsError (`genai-mcp serve` exits 2
    before anything starts); the ValueErrors here guard callers that build a verifier by hand.
    """

    def __init__(self, tokens: Sequence[SecretStr]):
        if not tokens:
            raise ValueError("StaticTokenVerifier needs at least one token")
        for i, token in enumerate(tokens, 1):
            if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise ValueError(f"token #{i} is shorter than {MIN_TOKEN_LENGTH} characters")
        self._digests = [self._digest(t.get_secret_value()) for t in tokens]

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8")).digest()

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = self._digest(token)
        match = 0
        for i, digest in enumerate(self._digests, 1):
            if hmac.compare_digest(presented, digest):
                match = i
        if not match:
            return None
        return AccessToken(token=token, client_id=f"token-{match}", scopes=[])


def auth_settings(public_url: str) -> AuthSettings:
    """Resource-server settings: 401s point at the RFC 9728 metadata for `public_url`/mcp.

    Static tokens have no authorization server; the metadata names this server's own base URL,
    which is what a client shows a user who must obtain a token out of band.
    """
    base = public_url.rstrip("/")
    return AuthSettings(
        issuer_url=AnyHttpUrl(base),
        resource_server_url=AnyHttpUrl(base + "/mcp"),
        # The verifier accepts only tokens minted for this server, so no audience check applies.
        validate_token_resource=False,
    )


TOKEN_REQUIRED = "a bearer token is required: send the header Authorization: Bearer <token>"
TOKEN_NOT_VALID = "the bearer token is not valid"


class BearerChallenges:
    """ASGI middleware around the SDK's app: its 401s, rewritten to say what was wrong.

    `resource_server_url` is the AuthSettings' (the 401s point at its RFC 9728 metadata). Only 401
    responses change; everything else passes through untouched.
    """

    def __init__(self, app: ASGIApp, resource_server_url: AnyHttpUrl):
        self.app = app
        self.metadata = str(build_resource_metadata_url(resource_server_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The SDK's backend reads a token only from `Authorization: Bearer ...`; any other header
        # (none, Basic, ...) is a request without bearer credentials.
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        presented = authorization[:7].lower() == b"bearer "

        async def challenge(_: Message) -> None:
            await self._challenge(send, presented)

        await self.app(scope, receive, replacing(send, 401, challenge))

    async def _challenge(self, send: Send, presented: bool) -> None:
        if presented:
            challenge = f'Bearer error="invalid_token", error_description="{TOKEN_NOT_VALID}", '
            body = {"error": "invalid_token", "error_description": TOKEN_NOT_VALID}
        else:
            challenge = "Bearer "  # no credentials: no error code (RFC 6750 section 3.1)
            body = {"error_description": TOKEN_REQUIRED}
        authenticate = f'{challenge}resource_metadata="{self.metadata}"'.encode()
        await json_response(send, 401, body, [(b"www-authenticate", authenticate)])
