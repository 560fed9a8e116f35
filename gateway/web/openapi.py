"""The OpenAPI 3.1 document at `/openapi.json`, assembled from the `Operation`s each REST module
declares beside its routes; schemas come from the dataclasses the routes serialise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.web.json_schema import Schema, SchemaRegistry

PROBLEM_SCHEMA: Schema = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "correlationId": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}
ERROR_TITLES = {
    304: "Not Modified",
    400: "Bad request: a parameter or the body is malformed (the `field` says which)",
    401: "No valid API key",
    403: "The key's role does not allow this",
    404: "Not found",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    502: "An upstream service failed",
    503: (
        "Unavailable: an upstream is down and no cached answer is recent enough, or the sync has not "
        "yet read what the answer needs"
    ),
}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # "query", "path" or "header"
    schema: Schema
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    response: type | Callable[[SchemaRegistry], Schema] | None = None
    """A dataclass the route serialises with `to_json`, or a function building a composite schema."""
    response_omit: tuple[str, ...] = ()
    request_body: Schema | type | None = None
    parameters: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400,)
    status: int = 200
    response_headers: dict[str, str] = field(default_factory=dict)


def build_openapi(operations: Sequence[Operation], *, title: str, version: str) -> dict[str, Any]:
    registry = SchemaRegistry()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            schema = (
                registry.ref(op.response, omit=op.response_omit)
                if isinstance(op.response, type)
                else op.response(registry)
            )
            ok["content"] = {"application/json": {"schema": schema}}
        if op.response_headers:
            ok["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in op.response_headers.items()
            }
        responses[str(op.status)] = ok
        for status in (*op.errors, 401):
            entry: dict[str, Any] = {"description": ERROR_TITLES.get(status, "Error")}
            if status != 304:
                entry["content"] = {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
            responses[str(status)] = entry
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {
                    "name": p.name,
                    "in": p.location,
                    "required": p.required or p.location == "path",
                    "schema": p.schema,
                    **({"description": p.description} if p.description else {}),
                }
                for p in op.parameters
            ],
            "responses": responses,
        }
        if op.request_body is not None:
            body_schema = (
                op.request_body if isinstance(op.request_body, dict) else registry.ref(op.request_body)
            )
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    components = dict(registry.components)
    components["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "gateway API key"}
            },
        },
        "security": [{"apiKey": []}],
    }


PAGE_INFO: Schema = {
    "type": "object",
    "properties": {"hasNextPage": {"type": "boolean"}, "endCursor": {"type": ["string", "null"]}},
    "required": ["hasNextPage", "endCursor"],
}


def page_of(item: Schema) -> Schema:
    """The REST shape of a cursor page: `{"items": [...], "pageInfo": {...}}`."""
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item}, "pageInfo": PAGE_INFO},
        "required": ["items", "pageInfo"],
    }


def openapi_endpoint(document: dict[str, Any]) -> Any:
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return openapi
