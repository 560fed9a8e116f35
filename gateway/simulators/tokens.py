"""A stand-in for Microsoft Entra ID's client-credentials token endpoint, and bearer token checks.

Tokens are JWT-shaped and HMAC-signed with a per-instance key, so one simulator's tokens fail on another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenIssuer:
    """Issues and verifies tokens for the configured clients of one simulator instance."""

    tenant: str
    clients: Mapping[str, str]  # client id -> secret
    lifetime_seconds: int
    audience: str
    scope_ok: Callable[[str], bool]
    clock: Callable[[], float]

    def __post_init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def issue(self, client_id: str) -> str:
        now = int(self.clock())
        header = {"typ": "JWT", "alg": "HS256"}
        claims = {
            "aud": self.audience,
            "iss": f"https://sts.windows.net/{self.tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_seconds,
            "appid": client_id,
            "tid": self.tenant,
            "roles": ["API.ReadWrite.All"],
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def verify(self, authorization: str | None) -> str | None:
        """The token's client id, or None when missing, malformed, forged or expired."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            claims: dict[str, Any] = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if claims.get("exp", 0) <= self.clock() or claims.get("aud") != self.audience:
            return None
        client = claims.get("appid")
        return client if isinstance(client, str) else None

    async def endpoint(self, request: Request) -> JSONResponse:
        """``POST /{tenant}/oauth2/v2.0/token`` with AAD's error shapes."""
        if request.path_params.get("tenant") != self.tenant:
            return _aad_error(
                400,
                "invalid_request",
                f"AADSTS90002: Tenant '{request.path_params.get('tenant')}' not found.",
            )
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type; use client_credentials.",
            )
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return _aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant}'.",
            )
        if not hmac.compare_digest(form.get("client_secret", "").encode(), self.clients[client_id].encode()):
            return _aad_error(
                401,
                "invalid_client",
                f"AADSTS7000215: Invalid client secret provided for app '{client_id}'.",
            )
        scope = form.get("scope", "")
        if not self.scope_ok(scope):
            return _aad_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {scope!r} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to the "
                "resource identifier.",
            )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": self.lifetime_seconds,
                "ext_expires_in": self.lifetime_seconds,
                "access_token": self.issue(client_id),
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )


def _aad_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:].split(":")[0])],
        },
        status_code=status,
    )
