"""The GraphQL endpoint: strawberry's ASGI view with our typed context."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from gateway.services.container import Services
from gateway.web.auth import principal_of
from gateway.web.graphql_http import GraphQLOverHTTP
from resolvers.context import Context


class GraphQLView(GraphQLOverHTTP[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        principal = principal_of(request)
        return Context(
            principal=principal,
            services=services,
            request=request,
            response=response,
            introspection_allowed=principal.is_admin or bool(request.app.state.settings.demo),
        )
