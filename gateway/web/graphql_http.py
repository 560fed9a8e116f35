"""GraphQL over HTTP as the spec asks, on top of strawberry's ASGI view: `Accept` negotiation,
`application/graphql-response+json` with 4xx for request errors, a body size limit, problem+json
for transport-level mistakes."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http.typevars import Context, RootValue
from strawberry.types import ExecutionResult

from gateway.web.json_depth import MAX_JSON_DEPTH, nested_deeper
from gateway.web.problems import problem

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 256 * 1024


def preferred_media_type(accept: str | None) -> str | None:
    """The response media type for an Accept header: the GraphQL response type when the client
    lists it, JSON for legacy clients (`application/json`, `*/*` or no header), else None (406)."""
    if not accept:
        return JSON
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((quality, media.lower()))
    ranges.sort(key=lambda r: -r[0])
    for _, media in ranges:
        if media in (GRAPHQL_RESPONSE, "application/*"):
            return GRAPHQL_RESPONSE
        if media in (JSON, "*/*"):
            return JSON
    return None


def is_request_error(result: ExecutionResult) -> bool:
    """A parse or validation failure: nothing was executed, so no error has a path."""
    return result.data is None and bool(result.errors) and all(not e.path for e in result.errors or ())


class GraphQLOverHTTP(GraphQL[Context, RootValue]):
    max_body_bytes = MAX_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run_http(request)
        except HTTPException as exc:
            response = problem(exc.status_code, HTTPStatus(exc.status_code).phrase, exc.reason or None)
        await response(scope, receive, send)

    async def run_http(self, request: Request) -> Response:
        media_type = preferred_media_type(request.headers.get("accept"))
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if media_type is None and not wants_ide:
            return problem(406, "Not Acceptable", f"accept {GRAPHQL_RESPONSE} or {JSON}")
        if request.method == "POST":
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                return problem(
                    413,
                    "Payload Too Large",
                    f"a GraphQL request may have at most {self.max_body_bytes} bytes",
                )
            body = await request.body()
            if len(body) > self.max_body_bytes:
                return problem(
                    413,
                    "Payload Too Large",
                    f"a GraphQL request may have at most {self.max_body_bytes} bytes",
                )
        request.state.graphql_request_error = False
        response = await self.run(request)
        if media_type != GRAPHQL_RESPONSE or response.media_type != JSON:
            return response
        return self._as_graphql_response(request, response)

    def decode_json(self, data: str | bytes) -> object:
        """The body (or GET's `variables`/`extensions`) as JSON: strawberry turns only a
        JSONDecodeError into its 400, so too deep a nesting is refused here too (json_depth)."""
        too_deep = f"the request nests arrays or objects more than {MAX_JSON_DEPTH} deep"
        try:
            value = json.loads(data)
        except RecursionError:
            raise HTTPException(400, too_deep) from None
        if nested_deeper(value, MAX_JSON_DEPTH):
            raise HTTPException(400, too_deep)
        return value

    def _as_graphql_response(self, request: Request, response: Response) -> Response:
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in {"content-length", "content-type"}
        }
        if not request.state.graphql_request_error:
            return Response(
                response.body, status_code=response.status_code, headers=headers, media_type=GRAPHQL_RESPONSE
            )
        payload: dict[str, Any] = json.loads(bytes(response.body))
        payload.pop("data", None)  # a request error has no data entry at all
        return Response(json.dumps(payload), status_code=400, headers=headers, media_type=GRAPHQL_RESPONSE)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        if is_request_error(result):
            request.state.graphql_request_error = True
        return await super().process_result(request, result)


__all__ = ["GRAPHQL_RESPONSE", "GraphQLOverHTTP", "preferred_media_type"]
