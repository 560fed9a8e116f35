"""The GraphQL endpoint: strawberry's ASGI view with our typed context."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gateway.services.container import Services
from gateway.web.auth import principal_of
from resolvers.context import Context


class GraphQLView(GraphQL[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services: Services = request.app.state.services
        return Context(principal=principal_of(request), services=services, request=request, response=response)
