"""Transport-neutral request and response objects, so batch parts and HTTP requests share one handler.

The ASGI layer and both batch formats translate to and from these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode


@dataclass
class ODataRequest:
    """One operation against a service root; ``path`` is relative to the root and percent-decoded."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    service_root: str  # absolute, ends with "/"
    client_id: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def prefer(self) -> dict[str, str]:
        """``Prefer: odata.maxpagesize=50, return=representation`` -> {name: value}."""
        out: dict[str, str] = {}
        for raw in (self.header("prefer") or "").split(","):
            name, _, value = raw.strip().partition("=")
            if name:
                out[name.strip().lower()] = value.strip().strip('"')
        return out

    def json_body(self) -> Any:
        from .errors import ODataError

        if not self.body.strip():
            raise ODataError(400, "BadRequest", "The request body is empty.")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ODataError(400, "BadRequest", f"The request body is not valid JSON: {exc}") from exc


@dataclass
class ODataResponse:
    status: int
    payload: Any = None
    text: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body_bytes(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        if self.payload is None:
            return b""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode()

    def media_type(self) -> str | None:
        if self.content_type:
            return self.content_type
        if self.payload is not None:
            return "application/json; odata.metadata=minimal; odata.streaming=true"
        return None


def encode_query(pairs: list[tuple[str, str]]) -> str:
    """Spaces as %20, never '+', the way strict OData servers expect."""
    return urlencode(pairs, quote_via=quote, safe="$,'()/:@")


def parse_query(query: str) -> list[tuple[str, str]]:
    """Percent-decode without turning '+' into a space: OData servers read '+' literally."""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def split_target(url: str) -> tuple[str, list[tuple[str, str]]]:
    """'accounts?$top=1' -> ('accounts', [('$top', '1')]) with percent-decoding."""
    path, _, query = url.partition("?")
    return unquote(path), parse_query(query)
