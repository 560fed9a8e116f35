"""Every route of the gateway, in one list."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from gateway.web.graphql import GraphQLView
from gateway.web.health import healthz, readyz
from gateway.web.rest_catalog import catalog_routes
from schema.build import build_schema


def build_routes(*, graphql_ide: bool) -> list[BaseRoute]:
    graphql = GraphQLView(build_schema(), graphql_ide="graphiql" if graphql_ide else None)
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *catalog_routes(),
    ]
