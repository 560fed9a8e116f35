"""OData JSON batch as Business Central does it: up to 100 requests, stop at the first failure.

With ``Isolation: snapshot`` the batch is one transaction, so a failure rolls back earlier changes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ODataError
from .wire import ODataRequest, ODataResponse, split_target

if TYPE_CHECKING:
    from .engine import ODataService


class _Rollback(Exception):
    pass


def relative_target(url: str, service_root: str) -> str:
    """Absolute, host-relative or root-relative URL -> path and query relative to the service root."""
    root_path = urlsplit(service_root).path
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    if url.startswith("/"):
        if not url.startswith(root_path):
            raise ODataError(400, "BadRequest", f"The URL '{url}' is outside this service.")
        url = url[len(root_path) :]
    return url


def handle_json_batch(service: ODataService, request: ODataRequest, *, limit: int) -> ODataResponse:
    body = request.json_body()
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list):
        raise ODataError(400, "BadRequest", "A JSON batch needs a 'requests' array.")
    if len(requests) > limit:
        raise ODataError(
            400, "BadRequest", f"The batch contains {len(requests)} operations; at most {limit} are allowed."
        )
    atomic = (request.header("isolation") or "").lower() == "snapshot"
    responses: list[dict[str, Any]] = []
    store = service.store
    try:
        with store.transaction():
            for item in requests:
                answer = _run_one(service, request, item)
                responses.append(answer)
                if answer["status"] >= 400:
                    if atomic:
                        raise _Rollback
                    break
    except _Rollback:
        pass
    return ODataResponse(200, payload={"responses": responses}, content_type="application/json")


def _run_one(service: ODataService, outer: ODataRequest, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or "method" not in item or "url" not in item:
        error = ODataError(400, "BadRequest", "Each batch request needs 'method' and 'url'.")
        return {
            "id": item.get("id") if isinstance(item, dict) else None,
            **_as_dict(service.error_response(error)),
        }
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    try:
        target = relative_target(str(item["url"]), outer.service_root)
    except ODataError as exc:
        return {"id": item.get("id"), **_as_dict(service.error_response(exc))}
    path, query = split_target(target)
    body = item.get("body")
    sub = ODataRequest(
        method=str(item["method"]).upper(),
        path=path,
        query=query,
        headers=headers,
        body=json.dumps(body).encode() if body is not None else b"",
        service_root=outer.service_root,
        client_id=outer.client_id,
    )
    return {"id": item.get("id"), **_as_dict(service.handle(sub))}


def _as_dict(response: ODataResponse) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in response.headers.items()}
    media = response.media_type()
    if media:
        headers["content-type"] = media
    out: dict[str, Any] = {"status": response.status, "headers": headers}
    if response.payload is not None:
        out["body"] = response.payload
    elif response.text is not None:
        out["body"] = response.text
    return out
