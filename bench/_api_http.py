"""A lean HTTP/1.1 keep-alive client for bench/api.py's load generator, on plain asyncio streams.

httpx cost 1.3-5.4 ms of CPU per request in the load generator (docs/benchmarks.md), more than a
cached availability answer costs the gateway (0.7-0.8 ms), on the same 2 CPUs: the generator
measured itself. This client sends a prebuilt request and reads status line, headers and body
(Content-Length or chunked) and nothing else: no URL objects, no header models, no event hooks.
Every target (the gateway and Mesh) is measured with it, so their ratios stay fair.

Connections are kept alive and reused last-in first-out; one idle longer than `keepalive_expiry`
is closed before use, before the server drops it (uvicorn and Node end idle connections after
5 s): a request sent on a connection the server is closing would fail for no fault of the server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client reads it, or the connection ended early."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: status, body and what was asked (for the report of a wrong answer)."""

    status_code: int
    content: bytes
    method: str
    target: str
    sent: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def describe(self) -> str:
        return f"{self.method} {self.target} {self.sent[:200]!r} -> {self.status_code} {self.text[:300]}"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used_at = time.monotonic()
        self.reused = False

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """`get(path, params=…)` and `post(path, json=…)` against one origin, with fixed headers."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        keepalive_expiry: float = 2.0,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port] origins: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        fixed = {"Host": parts.netloc, "Accept": "*/*", **(headers or {})}
        self._headers = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._idle: list[_Connection] = []
        self._keepalive_expiry = keepalive_expiry
        self._timeout = timeout

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> Reply:
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        return await self.request("GET", target, b"")

    async def post(self, path: str, *, json: Any) -> Reply:
        body = _dumps(json)
        return await self.request("POST", self._prefix + path, body, content_type="application/json")

    async def request(
        self, method: str, target: str, body: bytes, *, content_type: str | None = None
    ) -> Reply:
        head = f"{method} {target} HTTP/1.1\r\n{self._headers}"
        if body or method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        message = (head + "\r\n").encode("latin-1") + body
        async with asyncio.timeout(self._timeout):
            connection = await self._acquire()
            try:
                status, content, keep = await self._exchange(connection, message)
            except (ProtocolError, ConnectionError) as exc:
                connection.close()
                # A reused connection the server closed meanwhile (it read nothing of ours): once
                # more on a new one. A first-use failure is the server's and counts.
                if not (connection.reused and isinstance(exc, (_ClosedBeforeAnswer, ConnectionResetError))):
                    raise
                connection = await self._connect()
                status, content, keep = await self._exchange(connection, message)
        if keep:
            connection.used_at = time.monotonic()
            connection.reused = True
            self._idle.append(connection)
        else:
            connection.close()
        return Reply(status_code=status, content=content, method=method, target=target, sent=body)

    async def _acquire(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.used_at < self._keepalive_expiry:
                return connection
            connection.close()
        return await self._connect()

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self._host, self._port, limit=2**20)
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, message: bytes) -> tuple[int, bytes, bool]:
        reader = connection.reader
        connection.writer.write(message)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _ClosedBeforeAnswer("the server closed the connection before answering") from None
            raise ProtocolError(f"the answer ended inside its headers: {exc.partial[:200]!r}") from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            version, code, *_ = lines[0].split(" ", 2)
            status = int(code)
        except ValueError:
            raise ProtocolError(f"not an HTTP status line: {lines[0][:200]!r}") from None
        length: int | None = None
        chunked = False
        keep = version == "HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                keep = value.strip().lower() == "keep-alive" or (keep and "close" not in value.lower())
        try:
            if chunked:
                content = await _read_chunked(reader)
            elif length is not None:
                content = await reader.readexactly(length)
            else:  # no framing: the body runs until the server closes
                content, keep = await reader.read(), False
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError(f"the body ended early after {len(exc.partial)} bytes") from None
        return status, content, keep


class _ClosedBeforeAnswer(ProtocolError):
    pass


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
