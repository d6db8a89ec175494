"""Static bearer tokens for streamable HTTP, checked through the SDK's TokenVerifier seam.

Tokens are compared as SHA-256 digests with `hmac.compare_digest` against every configured token
(no early exit), so timing reveals neither a prefix nor which token matched. Tokens are never
logged: the AccessToken's client id is the token's position in the configuration.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl, SecretStr

from genai_mcp.server.settings import MIN_TOKEN_LENGTH

__all__ = ["StaticTokenVerifier", "auth_settings"]


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
