"""OData multipart/mixed batch as Dataverse does it: up to 1,000 operations, atomic change sets.

Processing stops at the first failure unless ``Prefer: odata.continue-on-error``; ``$n`` Content-ID
references inside a change set resolve to the entity created by operation n.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from .batch_json import relative_target
from .errors import ODataError
from .wire import ODataRequest, ODataResponse, split_target

if TYPE_CHECKING:
    from .engine import ODataService

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class _Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class _ChangeSet:
    operations: list[_Operation] = field(default_factory=list)


class _Rollback(Exception):
    pass


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if not match:
        raise ODataError(400, "BadRequest", "The batch Content-Type has no boundary.")
    return match.group(1)


def _split_parts(body: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    chunks = body.split(delimiter)
    parts: list[str] = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        parts.append(chunk.lstrip("\r\n") if chunk.startswith(("\r\n", "\n")) else chunk)
    return parts


def _headers_and_body(text: str) -> tuple[dict[str, str], str]:
    normalized = text.replace("\r\n", "\n")
    head, _, rest = normalized.partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _operation(part: str) -> _Operation:
    mime_headers, http = _headers_and_body(part)
    http = http.lstrip("\n")
    request_line, _, rest = http.partition("\n")
    words = request_line.split()
    if len(words) < 2:
        raise ODataError(400, "BadRequest", f"Invalid request line in batch: '{request_line}'.")
    headers, body = _headers_and_body(rest)
    return _Operation(
        method=words[0].upper(),
        url=words[1],
        headers=headers,
        body=body.rstrip("\n").encode(),
        content_id=mime_headers.get("content-id"),
    )


def parse_batch(body: str, boundary: str) -> list[_Operation | _ChangeSet]:
    items: list[_Operation | _ChangeSet] = []
    for part in _split_parts(body, boundary):
        headers, inner = _headers_and_body(part)
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/mixed"):
            change_set = _ChangeSet()
            for op_part in _split_parts(inner, boundary_of(content_type)):
                change_set.operations.append(_operation(op_part))
            items.append(change_set)
        else:
            items.append(_operation(part))
    return items


def handle_multipart_batch(service: ODataService, request: ODataRequest, *, limit: int) -> ODataResponse:
    boundary = boundary_of(request.header("content-type") or "")
    items = parse_batch(request.body.decode("utf-8"), boundary)
    total = sum(len(i.operations) if isinstance(i, _ChangeSet) else 1 for i in items)
    if total > limit:
        raise ODataError(
            400, "BadRequest", f"The batch contains {total} operations; at most {limit} are allowed."
        )
    continue_on_error = "odata.continue-on-error" in request.prefer()
    out_boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    for item in items:
        if isinstance(item, _ChangeSet):
            text, failed = _run_change_set(service, request, item)
        else:
            response = _run(service, request, item, {})
            text, failed = _http_part(response, item.content_id), response.status >= 400
        chunks.append(f"--{out_boundary}\r\n{text}")
        if failed and not continue_on_error:
            break
    body = "".join(chunks) + f"--{out_boundary}--\r\n"
    headers = {"Preference-Applied": "odata.continue-on-error"} if continue_on_error else {}
    return ODataResponse(
        200, text=body, content_type=f"multipart/mixed; boundary={out_boundary}", headers=headers
    )


def _run_change_set(service: ODataService, outer: ODataRequest, change_set: _ChangeSet) -> tuple[str, bool]:
    cs_boundary = f"changesetresponse_{uuid.uuid4()}"
    created: dict[str, str] = {}
    parts: list[str] = []
    failure: tuple[ODataResponse, str | None] | None = None
    try:
        with service.store.transaction():
            for op in change_set.operations:
                response = _run(service, outer, op, created)
                if response.status >= 400:
                    failure = (response, op.content_id)
                    raise _Rollback
                if op.content_id and "OData-EntityId" in response.headers:
                    created[op.content_id] = response.headers["OData-EntityId"]
                parts.append(f"--{cs_boundary}\r\n{_http_part(response, op.content_id)}")
    except _Rollback:
        assert failure is not None
        # Dataverse answers a failed change set with the failing operation's response alone.
        return _http_part(*failure), True
    header = f"Content-Type: multipart/mixed; boundary={cs_boundary}\r\n\r\n"
    return header + "".join(parts) + f"--{cs_boundary}--\r\n", False


def _run(
    service: ODataService, outer: ODataRequest, op: _Operation, created: dict[str, str]
) -> ODataResponse:
    url = op.url
    if url.startswith("$"):
        ref, _, rest = url[1:].partition("/")
        if ref not in created:
            return service.error_response(
                ODataError(400, "BadRequest", f"Unknown Content-ID reference ${ref}.")
            )
        url = created[ref] + (f"/{rest}" if rest else "")
    try:
        target = relative_target(url, outer.service_root)
    except ODataError as exc:
        return service.error_response(exc)
    path, query = split_target(target)
    sub = ODataRequest(
        method=op.method,
        path=path,
        query=query,
        headers=op.headers,
        body=op.body,
        service_root=outer.service_root,
        client_id=outer.client_id,
    )
    return service.handle(sub)


def _http_part(response: ODataResponse, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    reason = HTTPStatus(response.status).phrase
    head = [f"HTTP/1.1 {response.status} {reason}", "OData-Version: 4.0"]
    media = response.media_type()
    if media:
        head.append(f"Content-Type: {media}")
    head.extend(f"{k}: {v}" for k, v in response.headers.items())
    body = response.body_bytes().decode()
    return "\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(head) + "\r\n\r\n" + body + "\r\n"
