"""OData `$batch` bodies in the two formats our upstreams speak: the JSON batch format (Business
Central, at most 100 operations) and multipart/mixed with change sets (Dataverse, at most 1,000)."""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import BatchResult
from gateway.upstream.translate import odata_error

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


class BatchFormat(enum.StrEnum):
    JSON = "json"
    MULTIPART = "multipart"


@dataclass(frozen=True, slots=True)
class BatchOperation:
    """One request inside a batch; `url` is relative to the service root the batch is sent to."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def idempotent(self) -> bool:
        # PATCH is an upsert by key (Dataverse) or guarded by If-Match (BC): repeating it is harmless.
        return self.method.upper() in IDEMPOTENT_METHODS

    @property
    def is_read(self) -> bool:
        return self.method.upper() in ("GET", "HEAD")


def _headers_etag(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "etag":
            return value
    return None


def _result(index: int, status: int, headers: Mapping[str, str], body: Any) -> BatchResult:
    code, message = odata_error(body) if status >= 400 else (None, None)
    etag = _headers_etag(headers)
    if etag is None and isinstance(body, Mapping):
        raw = body.get("@odata.etag")
        etag = raw if isinstance(raw, str) else None
    return BatchResult(
        index=index,
        status=status,
        body=body if isinstance(body, Mapping) else None,
        etag=etag,
        error_code=code,
        error_message=message,
    )


def not_executed(index: int, reason: str) -> BatchResult:
    """An operation the server never reached (an earlier failure stopped the batch)."""
    return BatchResult(index=index, status=424, error_code="NotExecuted", error_message=reason)


def rolled_back(results: Sequence[BatchResult]) -> list[BatchResult]:
    """In an all-or-nothing batch, one failure undoes the operations that had succeeded: report them
    as not applied (424) rather than as the 2xx the server answered before it rolled back."""
    failed = next((r for r in results if not r.ok), None)
    if failed is None:
        return list(results)
    reason = f"rolled back: operation {failed.index} of the same atomic batch failed"
    return [
        BatchResult(index=r.index, status=424, error_code="RolledBack", error_message=reason) if r.ok else r
        for r in results
    ]


# --------------------------------------------------------------------------------------------
# JSON batch (OData 4.01 §19, as Business Central implements it)


def encode_json_batch(ops: Sequence[BatchOperation]) -> dict[str, Any]:
    requests = []
    for position, op in enumerate(ops):
        headers = dict(op.headers)
        if op.body is not None:
            headers.setdefault("Content-Type", "application/json")
        entry: dict[str, Any] = {"id": str(position + 1), "method": op.method.upper(), "url": op.url}
        if headers:
            entry["headers"] = headers
        if op.body is not None:
            entry["body"] = dict(op.body)
        requests.append(entry)
    return {"requests": requests}


def decode_json_batch(payload: Any, *, count: int, offset: int) -> list[BatchResult]:
    """Per-operation results in request order; raises ValueError when the payload has the wrong shape."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("responses"), list):
        raise ValueError("a JSON batch response needs a `responses` array")
    by_id: dict[str, BatchResult] = {}
    for response in payload["responses"]:
        if not isinstance(response, Mapping):
            raise ValueError("a batch response entry is not an object")
        try:
            position = int(str(response.get("id"))) - 1
            status = int(response["status"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("a batch response entry has no usable id or status") from None
        if not 0 <= position < count:
            raise ValueError(f"a batch response entry has an unknown id {response.get('id')!r}")
        headers = response.get("headers") or {}
        if not isinstance(headers, Mapping):
            headers = {}
        by_id[str(position)] = _result(offset + position, status, headers, response.get("body"))
    return [
        by_id.get(str(position)) or not_executed(offset + position, "no response for this operation")
        for position in range(count)
    ]


# --------------------------------------------------------------------------------------------
# multipart/mixed batch with change sets (OData 4.0 §11.7, as Dataverse implements it)

CRLF = "\r\n"


def group_operations(ops: Sequence[BatchOperation], *, atomic: bool) -> list[list[int]]:
    """Which operations share a change set: atomic → each run of writes is one change set; otherwise
    every operation stands alone (a GET can never be inside a change set)."""
    groups: list[list[int]] = []
    for position, op in enumerate(ops):
        if atomic and not op.is_read and groups and groups[-1] and not ops[groups[-1][-1]].is_read:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def _http_part(op: BatchOperation, *, service_root: str, content_id: int | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    url = op.url if re.match(r"^https?://", op.url) else service_root.rstrip("/") + "/" + op.url.lstrip("/")
    lines += ["", f"{op.method.upper()} {url} HTTP/1.1"]
    headers = dict(op.headers)
    if op.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
    headers.setdefault("Accept", "application/json")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("")
    body = json.dumps(dict(op.body), ensure_ascii=False) if op.body is not None else ""
    return CRLF.join(lines) + CRLF + body


def encode_multipart_batch(
    ops: Sequence[BatchOperation], *, service_root: str, atomic: bool, boundary: str | None = None
) -> tuple[bytes, str, list[list[int]]]:
    """(body, content type, groups). Change-set members get a Content-ID (their position + 1)."""
    batch_boundary = boundary or f"batch_{uuid.uuid4()}"
    groups = group_operations(ops, atomic=atomic)
    chunks: list[str] = []
    for group in groups:
        first = ops[group[0]]
        if len(group) == 1 and (first.is_read or not atomic):
            chunks.append(
                f"--{batch_boundary}{CRLF}" + _http_part(first, service_root=service_root, content_id=None)
            )
            continue
        changeset = f"changeset_{uuid.uuid4()}"
        inner = [
            f"--{changeset}{CRLF}" + _http_part(ops[i], service_root=service_root, content_id=i + 1)
            for i in group
        ]
        chunks.append(
            f"--{batch_boundary}{CRLF}Content-Type: multipart/mixed; boundary={changeset}{CRLF}{CRLF}"
            + CRLF.join(inner)
            + f"{CRLF}--{changeset}--"
        )
    text = CRLF.join(chunks) + f"{CRLF}--{batch_boundary}--{CRLF}"
    return text.encode("utf-8"), f"multipart/mixed; boundary={batch_boundary}", groups


@dataclass(frozen=True, slots=True)
class _Part:
    headers: dict[str, str]
    content: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def boundary_of(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type, flags=re.IGNORECASE)
    return match.group(1).strip() if match else None


def _split_headers(raw: bytes) -> tuple[dict[str, str], bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, rest = raw.partition(separator)
        if found:
            break
    else:
        head, rest = raw, b""
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def split_multipart(content: bytes, boundary: str) -> list[_Part]:
    delimiter = b"--" + boundary.encode()
    pieces = content.split(delimiter)
    if len(pieces) < 2:
        raise ValueError("multipart body does not contain its boundary")
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the close delimiter
        body = piece[2:] if piece.startswith(b"\r\n") else piece.lstrip(b"\n")
        # The line break before the next delimiter belongs to the delimiter.
        if body.endswith(b"\r\n"):
            body = body[:-2]
        elif body.endswith(b"\n"):
            body = body[:-1]
        headers, rest = _split_headers(body)
        parts.append(_Part(headers=headers, content=rest))
    return parts


def _parse_http_response(content: bytes) -> tuple[int, dict[str, str], Any]:
    status_line, _, rest = content.partition(b"\n")
    match = re.match(rb"^HTTP/\d(?:\.\d)?\s+(\d{3})", status_line.strip())
    if not match:
        raise ValueError(f"bad status line in batch response: {status_line[:80]!r}")
    headers: dict[str, str]
    if rest.startswith((b"\r\n", b"\n")):  # no headers at all
        headers, body = {}, rest.lstrip(b"\r").removeprefix(b"\n")
    else:
        headers, body = _split_headers(rest)
    text = body.strip()
    parsed: Any = None
    if text:
        try:
            parsed = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            parsed = None
    return int(match.group(1)), headers, parsed


def decode_multipart_batch(
    content: bytes, *, content_type: str, groups: Sequence[Sequence[int]], count: int, offset: int
) -> list[BatchResult]:
    """Per-operation results in request order. A failed change set answers with one error response:
    it applies to every operation of that change set. Groups the server never reached get 424."""
    boundary = boundary_of(content_type)
    if not boundary:
        raise ValueError("batch response is not multipart")
    results: dict[int, BatchResult] = {}
    for group, part in zip(groups, split_multipart(content, boundary), strict=False):
        inner_type = part.header("content-type") or ""
        if inner_type.lower().startswith("multipart/mixed"):
            inner_boundary = boundary_of(inner_type)
            if not inner_boundary:
                raise ValueError("change set response has no boundary")
            responses = split_multipart(part.content, inner_boundary)
            if len(responses) != len(group):
                raise ValueError("change set response does not answer every operation")
            by_content_id = {r.header("content-id"): r for r in responses if r.header("content-id")}
            for slot, position in enumerate(group):
                response = by_content_id.get(str(position + 1), responses[slot])
                status, headers, body = _parse_http_response(response.content)
                results[position] = _result(offset + position, status, headers, body)
        else:
            status, headers, body = _parse_http_response(part.content)
            for position in group:
                results[position] = _result(offset + position, status, headers, body)
    return [
        results.get(position) or not_executed(offset + position, "an earlier operation failed; not executed")
        for position in range(count)
    ]
