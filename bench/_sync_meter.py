"""A pass-through httpx transport for the sync benchmark that counts what the gateway sends: requests
by method and entity set, and the operations inside each $batch (the n of ⌈n / batch limit⌉)."""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import urlsplit

import httpx

_MULTIPART_LINE = re.compile(rb"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1", re.MULTILINE)


def entity_of(url: str) -> str:
    """The entity set a request URL addresses: the last path segment that is not `$…`, key removed."""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    segments = [s for s in path.split("/") if s and not s.startswith("$")]
    return segments[-1].split("(", 1)[0] if segments else "(root)"


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts, then forwards to `inner`. `requests[(method, set)]`: every HTTP request sent (retries
    included); `operations[(method, set)]`: the operations inside $batch bodies that write (a $batch of GETs
    only counts in `read_batches`)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        name: str = "",
        journal: list[tuple[str, dict[str, int]]] | None = None,
    ) -> None:
        self.inner = inner
        self.name = name
        self.journal = journal if journal is not None else []
        """Every write `$batch` in the order sent: (name, operations per "METHOD set"); meters
        sharing one list interleave, which shows which run's writes shared (or missed) a batch."""
        self.requests: Counter[tuple[str, str]] = Counter()
        self.operations: Counter[tuple[str, str]] = Counter()
        self.batches_by_set: Counter[str] = Counter()
        """$batch requests that carried at least one write on the set."""
        self.read_batches = 0
        self.write_batches = 0
        """$batch requests carrying only GETs (reads sent together), not writes."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = entity_of(request.url.path)
        self.requests[(request.method, target)] += 1
        if request.url.path.rstrip("/").endswith("$batch"):
            self._count_batch(await request.aread(), request.headers.get("content-type", ""))
        return await self.inner.handle_async_request(request)

    def _count_batch(self, body: bytes, content_type: str) -> None:
        ops: list[tuple[str, str]]
        if content_type.startswith("application/json"):
            requests = json.loads(body).get("requests", [])
            ops = [(str(op["method"]).upper(), entity_of(str(op["url"]))) for op in requests]
        else:
            ops = [(m.decode(), entity_of(u.decode())) for m, u in _MULTIPART_LINE.findall(body)]
        if all(method == "GET" for method, _set in ops):
            self.read_batches += 1
            return
        self.write_batches += 1
        carried = Counter(f"{method} {entity_set}" for method, entity_set in ops)
        self.journal.append((self.name, dict(carried)))
        self.operations.update(ops)
        self.batches_by_set.update({entity_set for _method, entity_set in ops})

    async def aclose(self) -> None:
        await self.inner.aclose()
