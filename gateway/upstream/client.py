"""The OData v4 HTTP client both connectors stand on: paging and `$batch` over the request pipeline
of `gateway.upstream.requester` (auth, limits, retries). Every failure leaves it as a `gateway.errors`
class; callers never see httpx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from gateway.domain import BatchResult
from gateway.upstream.batch import (
    BatchFormat,
    BatchOperation,
    decode_json_batch,
    decode_multipart_batch,
    encode_json_batch,
    encode_multipart_batch,
    rolled_back,
)
from gateway.upstream.odata import Query
from gateway.upstream.requester import ClientStats, ODataRequester, ODataResponse

log = logging.getLogger(__name__)


# Each service's own ceiling on operations per $batch (DOMAIN.md §2 and §3).
BATCH_LIMITS = {BatchFormat.JSON: 100, BatchFormat.MULTIPART: 1_000}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a collection, with the links that continue it."""

    rows: list[dict[str, Any]]
    url: str
    next_link: str | None = None
    delta_link: str | None = None
    count: int | None = None


class ODataClient(ODataRequester):
    """HTTP client for one OData service root (`base_url` ends with `/`).

    Targets are paths relative to `base_url` (already encoded, see `odata.entity_path`) or absolute
    URLs on the same origin (next/delta links). `auth=None` sends no Authorization header.
    """

    def __repr__(self) -> str:
        return f"ODataClient(service={self.service!r}, base_url={self.base_url!r})"

    # -------------------------------------------------------------------------------- paging

    async def page_stream(
        self,
        target: str,
        *,
        query: Query | None = None,
        page_size: int | None = None,
        prefer: Sequence[str] = (),
    ) -> AsyncIterator[Page]:
        """Pages of a collection, following `@odata.nextLink` (relative or absolute) until a page
        comes without one or comes back empty. Only one page is held at a time."""
        preferences = [*prefer, f"odata.maxpagesize={page_size or self.limits.page_size}"]
        headers = {"Prefer": ", ".join(preferences)}
        url: str | None = self.url(target, query)
        seen: set[str] = set()
        while url is not None:
            response = await self.request("GET", url, headers=headers)
            page = self._page(response)
            yield page
            if not page.rows or page.next_link is None:
                return
            url = self._resolve(page.next_link, response)
            if url in seen:
                self._protocol("the server sent the same nextLink twice", url=url)
            seen.add(url)

    async def pages(
        self, target: str, *, query: Query | None = None, page_size: int | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        async for page in self.page_stream(target, query=query, page_size=page_size):
            if page.rows:
                yield page.rows

    def _page(self, response: ODataResponse) -> Page:
        body = response.body
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            self._protocol("a collection response needs a `value` array", url=response.url)
        rows = body["value"]
        if not all(isinstance(row, dict) for row in rows):
            self._protocol("a collection holds something that is not an object", url=response.url)
        next_link = body.get("@odata.nextLink")
        delta_link = body.get("@odata.deltaLink")
        count = body.get("@odata.count")
        return Page(
            rows=rows,
            url=response.url,
            next_link=self._resolve(next_link, response)
            if isinstance(next_link, str) and next_link
            else None,
            delta_link=self._resolve(delta_link, response)
            if isinstance(delta_link, str) and delta_link
            else None,
            count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        )

    def _resolve(self, link: str, response: ODataResponse) -> str:
        """OData: a relative link is relative to the context URL (the service's `$metadata`), or to
        the request URL when the payload has no context."""
        context = response.body.get("@odata.context") if isinstance(response.body, dict) else None
        base = urljoin(response.url, context) if isinstance(context, str) and context else response.url
        return self.url(urljoin(base, link))

    # --------------------------------------------------------------------------------- batch

    def batch_size(self, batch_format: BatchFormat) -> int:
        """Operations per `$batch` request: the configured size, capped by the service's limit."""
        return min(self.limits.batch_size, BATCH_LIMITS[batch_format])

    async def batch(
        self,
        operations: Sequence[BatchOperation],
        *,
        batch_format: BatchFormat,
        service_path: str = "",
        atomic: bool = False,
    ) -> list[BatchResult]:
        """Run `operations` in `$batch` requests of at most the configured (and the service's) size.
        `atomic` makes each chunk all-or-nothing (BC `Isolation: snapshot`, Dataverse change sets);
        results come back in operation order with their global index."""
        size = self.batch_size(batch_format)
        results: list[BatchResult] = []
        for offset in range(0, len(operations), size):
            chunk = operations[offset : offset + size]
            if batch_format is BatchFormat.JSON:
                results += await self._json_batch(
                    chunk, offset=offset, service_path=service_path, atomic=atomic
                )
            else:
                results += await self._multipart_batch(
                    chunk, offset=offset, service_path=service_path, atomic=atomic
                )
        return results

    async def first_pages(
        self, targets: Sequence[str], *, service_path: str = "", page_size: int | None = None
    ) -> list[Page | None]:
        """The first page of several collections, read as GETs inside JSON `$batch`es (one request
        per 100 reads; Business Central accepts GETs in a batch). `targets` are relative to the
        service root at `service_path`; a page's next link is followed with `page_stream` like any
        other. None stands for a read the batch did not answer with a 2xx: read it on its own."""
        prefer = {"Prefer": f"odata.maxpagesize={page_size or self.limits.page_size}"}
        operations = [BatchOperation("GET", target, headers=prefer) for target in targets]
        root = service_path.strip("/") + "/" if service_path.strip("/") else ""
        pages: list[Page | None] = []
        for target, result in zip(
            targets,
            await self.batch(operations, batch_format=BatchFormat.JSON, service_path=service_path),
            strict=True,
        ):
            if not result.ok or result.body is None:
                log.info("batched GET %s answered %s; it is read on its own", target, result.status)
                pages.append(None)
                continue
            url = self.url(root + target.lstrip("/"))
            response = ODataResponse(status=result.status, headers={}, content=b"", body=result.body, url=url)
            pages.append(self._page(response))
        return pages

    def _batch_target(self, service_path: str) -> str:
        return (service_path.strip("/") + "/$batch") if service_path.strip("/") else "$batch"

    async def _json_batch(
        self, chunk: Sequence[BatchOperation], *, offset: int, service_path: str, atomic: bool
    ) -> list[BatchResult]:
        # BC stops at the first failure unless asked to go on; with Isolation the batch is one transaction.
        headers = {"Isolation": "snapshot"} if atomic else {"Prefer": "odata.continue-on-error"}
        response = await self.request(
            "POST",
            self._batch_target(service_path),
            json_body=encode_json_batch(chunk),
            headers=headers,
            idempotent=all(op.idempotent for op in chunk),
        )
        try:
            results = decode_json_batch(response.body, count=len(chunk), offset=offset)
        except ValueError as exc:
            self._protocol(str(exc), url=response.url)
        return rolled_back(results) if atomic else results

    async def _multipart_batch(
        self, chunk: Sequence[BatchOperation], *, offset: int, service_path: str, atomic: bool
    ) -> list[BatchResult]:
        root = self.base_url + (service_path.strip("/") + "/" if service_path.strip("/") else "")
        content, content_type, groups = encode_multipart_batch(chunk, service_root=root, atomic=atomic)
        headers = {"Content-Type": content_type}
        if not atomic:
            headers["Prefer"] = "odata.continue-on-error"
        response = await self.request(
            "POST",
            self._batch_target(service_path),
            content=content,
            headers=headers,
            idempotent=all(op.idempotent for op in chunk),
            raw=True,
        )
        try:
            return decode_multipart_batch(
                response.content,
                content_type=response.headers.get("content-type", ""),
                groups=groups,
                count=len(chunk),
                offset=offset,
            )
        except ValueError as exc:
            self._protocol(str(exc), url=response.url)


__all__ = ["BATCH_LIMITS", "ClientStats", "ODataClient", "ODataResponse", "Page"]
