"""The GraphQL endpoint: strawberry's ASGI view with our typed context.

Over WebSocket (graphql-transport-ws, or the legacy graphql-ws), browsers cannot set headers, so a
connection without an `Authorization` header sends its API key in the `connection_init` payload,
as `{"Authorization": "Bearer <key>"}` or `{"apiKey": "<key>"}`. A missing, unknown or revoked key
closes the connection with 4403 Forbidden (graphql-ws: `connection_error`, then close); an operation
sent before the connection is acknowledged closes it with 4401 Unauthorized (strawberry). With a
valid header the payload is not looked at. Roles apply exactly as over HTTP.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from gateway.domain import Principal
from gateway.services.container import Services
from gateway.web.auth import PrincipalUser, principal_of
from gateway.web.graphql_http import GraphQLOverHTTP
from resolvers.context import Context

PLAIN_ACK: UnsetType = UNSET  # connection_ack without a payload
REJECTED: dict[str, object] = {
    "message": 'send a valid API key in connection_init: {"Authorization": "Bearer <key>"}'
}


def key_in_payload(payload: dict[str, Any] | None) -> str | None:
    """The API key a `connection_init` payload carries, if any: `Authorization: Bearer <key>` (the
    name in any case) or `apiKey`."""
    if not payload:
        return None
    for name, value in payload.items():
        if not isinstance(value, str):
            continue
        if name.lower() == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == "apiKey" and value.strip():
            return value.strip()
    return None


class GraphQLView(GraphQLOverHTTP[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        user = request.scope.get("user")
        if isinstance(request, WebSocket) and not isinstance(user, PrincipalUser):
            caller = None  # authenticated by on_ws_connect, from connection_init
        else:
            caller = principal_of(request)
        return Context(
            caller=caller,
            services=services,
            request=request,
            response=response,
            introspection_allowed=self._introspection_allowed(request, caller),
        )

    @staticmethod
    def _introspection_allowed(request: Request | WebSocket, caller: Principal | None) -> bool:
        return caller is not None and (caller.is_admin or bool(request.app.state.settings.demo))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if context.caller is not None:  # the Authorization header of the handshake
            return PLAIN_ACK
        key = key_in_payload(context.connection_params)
        principal = await context.services.access.authenticate(key) if key else None
        if principal is None:
            raise ConnectionRejectionError(REJECTED)
        context.caller = principal
        context.introspection_allowed = self._introspection_allowed(context.request, principal)
        return PLAIN_ACK
