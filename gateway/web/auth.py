"""Authentication by API key (`Authorization: Bearer <key>`) and the rule that every endpoint but
the health checks needs one. Roles travel on `request.user.principal`; services decide what they allow."""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from gateway.domain import Principal
from gateway.services.container import Services
from gateway.web.problems import problem

# The BC webhook cannot send an API key: its notifications are checked by clientState (webhooks.py).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/api/v1/admin/webhooks/bc"})
# Browsers cannot set headers on a WebSocket: on these paths a WebSocket without the header is let
# through and must send its key in the GraphQL connection_init payload (gateway.web.graphql).
CONNECTION_INIT_PATHS = frozenset({"/graphql"})


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name or self.principal.role.value

    @property
    def identity(self) -> str:
        return self.principal.key_id


class ApiKeyBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <API key>'")
        services: Services = conn.app.state.services
        principal = await services.access.authenticate(token.strip())
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked")
        return AuthCredentials(["authenticated", principal.role.value]), PrincipalUser(principal)


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return problem(401, "Unauthorized", str(exc))


class RequireAuthentication:
    """Secure by default: a request that is not for a public path needs an authenticated user."""

    def __init__(self, app: ASGIApp, *, public_paths: frozenset[str] = PUBLIC_PATHS) -> None:
        self.app = app
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            if scope["path"] in CONNECTION_INIT_PATHS:
                await self.app(scope, receive, send)
                return
            await WebSocket(scope, receive, send).close(code=4401, reason="Unauthorized")
            return
        response = problem(401, "Unauthorized", "send 'Authorization: Bearer <API key>'")
        await response(scope, receive, send)


def principal_of(conn: HTTPConnection) -> Principal:
    user = conn.scope.get("user")
    if isinstance(user, PrincipalUser):
        return user.principal
    raise AuthenticationError("not authenticated")  # RequireAuthentication makes this unreachable
