"""The Dataverse connector (DOMAIN.md §3): who we are, streamed reads, change tracking with delta
links, creates, upserts by key or alternate key, ETag-guarded updates, and multipart `$batch`es."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from gateway.domain import BatchResult, DeletedRecord, Organisation, UpstreamRecord
from gateway.errors import UpstreamNotFound, UpstreamProtocolError
from gateway.upstream.batch import BatchFormat, BatchOperation
from gateway.upstream.client import ODataClient, ODataResponse
from gateway.upstream.odata import Key, Query, entity_path
from gateway.upstream.records import as_str, to_record
from gateway.upstream.writes import Write, WriteKind

SERVICE = "crm"
API_PATH = "api/data/v9.2/"

# Entity set → primary key, where the plain rule (drop the plural ending, add "id") would be wrong.
PRIMARY_KEYS: dict[str, str] = {
    "transactioncurrencies": "transactioncurrencyid",
    "salesorderdetails": "salesorderdetailid",
    "productpricelevels": "productpricelevelid",
    "organizations": "organizationid",
}

REPRESENTATION = {"Prefer": "return=representation"}


def primary_key(entity_set: str) -> str:
    if entity_set in PRIMARY_KEYS:
        return PRIMARY_KEYS[entity_set]
    if entity_set.endswith("ies"):
        return entity_set[:-3] + "yid"
    if entity_set.endswith("s"):
        return entity_set[:-1] + "id"
    return entity_set + "id"


class CrmConnector:
    """Dataverse Web API v9.2 through one `ODataClient` whose base URL is the `api/data/v9.2/` root."""

    def __init__(self, client: ODataClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"CrmConnector(base_url={self.client.base_url!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    @property
    def org_url(self) -> str:
        base = self.client.base_url
        return base[: -len(API_PATH)].rstrip("/") if base.endswith(API_PATH) else base.rstrip("/")

    # ---------------------------------------------------------------------------- identity

    async def ping(self) -> None:
        """One small read (`WhoAmI`), for readiness: it raises unless Dataverse answered it. Run
        inside a `policy.call_budget` to make it one attempt with a short timeout."""
        await self.client.get("WhoAmI")

    async def who_am_i(self) -> Organisation:
        """`WhoAmI` plus the organisation's base currency (empty if the service does not tell)."""
        me = await self.client.get("WhoAmI")
        organization_id = as_str(me.get("OrganizationId"))
        user_id = as_str(me.get("UserId"))
        if not organization_id or not user_id:
            raise UpstreamProtocolError("WhoAmI answered without OrganizationId/UserId", service=SERVICE)
        return Organisation(
            url=self.org_url,
            organization_id=organization_id,
            user_id=user_id,
            base_currency_code=await self._base_currency(organization_id),
        )

    async def _base_currency(self, organization_id: str) -> str:
        try:
            org = await self.client.get(
                entity_path("organizations", organization_id), query=Query(select=["_basecurrencyid_value"])
            )
            currency_id = as_str(org.get("_basecurrencyid_value"))
            if not currency_id:
                return ""
            currency = await self.client.get(
                entity_path("transactioncurrencies", currency_id), query=Query(select=["isocurrencycode"])
            )
        except UpstreamNotFound:
            # `organizations` is not readable everywhere (e.g. our simulator): the base currency is
            # then the one currency whose exchange rate is 1, if exactly one is.
            return await self._rate_one_currency()
        return as_str(currency.get("isocurrencycode"))

    async def _rate_one_currency(self) -> str:
        body = await self.client.get(
            "transactioncurrencies", query=Query(filter="exchangerate eq 1", select=["isocurrencycode"])
        )
        rows = body.get("value")
        if isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], dict):
            return as_str(rows[0].get("isocurrencycode"))
        return ""

    # ------------------------------------------------------------------------------- reads

    def _record(self, entity_set: str, row: Mapping[str, Any]) -> UpstreamRecord:
        return to_record(
            row, entity_set=entity_set, key=primary_key(entity_set), modified="modifiedon", service=SERVICE
        )

    async def pages(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
        orderby: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[list[UpstreamRecord]]:
        query = Query(filter=filter, select=select, orderby=orderby)
        async for rows in self.client.pages(entity_set, query=query, page_size=page_size):
            yield [self._record(entity_set, row) for row in rows]

    async def get(self, entity_set: str, key: Key, *, select: Sequence[str] | None = None) -> UpstreamRecord:
        row = await self.client.get(entity_path(entity_set, key), query=Query(select=select))
        return self._record(entity_set, row)

    async def track_changes(
        self,
        entity_set: str,
        *,
        delta_link: str | None = None,
        select: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> tuple[list[UpstreamRecord], list[DeletedRecord], str]:
        """Without `delta_link`: every row plus the first delta link. With it: rows created or changed
        since, the deletions, and the next delta link. (`$filter`/`$orderby`/`$top` are not allowed.)"""
        if delta_link is None:
            target = entity_set
            query: Query | None = Query(select=select)
        else:
            target, query = delta_link, None
        changed: list[UpstreamRecord] = []
        deleted: list[DeletedRecord] = []
        next_delta: str | None = None
        async for page in self.client.page_stream(
            target, query=query, page_size=page_size, prefer=("odata.track-changes",)
        ):
            for row in page.rows:
                if _is_deletion(row):
                    deleted.append(DeletedRecord(entity_set=entity_set, id=as_str(row.get("id"))))
                else:
                    changed.append(self._record(entity_set, row))
            next_delta = page.delta_link or next_delta
        if next_delta is None:
            raise UpstreamProtocolError(
                f"{entity_set}: change tracking answered without a deltaLink", service=SERVICE
            )
        return changed, deleted, next_delta

    # ------------------------------------------------------------------------------ writes

    async def create(self, entity_set: str, values: Mapping[str, Any]) -> UpstreamRecord:
        """POST (a client-chosen primary key may be in `values`); not repeated once it may have
        reached Dataverse. To make a create safely repeatable, `upsert` by a chosen key instead."""
        response = await self.client.request(
            "POST", entity_set, json_body=dict(values), headers=REPRESENTATION
        )
        return self._written(entity_set, response)

    async def upsert(self, entity_set: str, key: Key, values: Mapping[str, Any]) -> UpstreamRecord:
        """PATCH by primary key (GUID) or alternate key: creates when absent, else updates."""
        response = await self.client.request(
            "PATCH", entity_path(entity_set, key), json_body=dict(values), headers=REPRESENTATION
        )
        return self._written(entity_set, response)

    async def update(
        self, entity_set: str, key: Key, values: Mapping[str, Any], *, etag: str
    ) -> UpstreamRecord:
        """PATCH with If-Match: never creates; a stale ETag → PreconditionFailed, absent → NotFound."""
        response = await self.client.request(
            "PATCH",
            entity_path(entity_set, key),
            json_body=dict(values),
            headers={**REPRESENTATION, "If-Match": etag},
        )
        return self._written(entity_set, response)

    async def delete(self, entity_set: str, key: Key, *, etag: str | None = None) -> None:
        headers = {"If-Match": etag} if etag else {}
        await self.client.request("DELETE", entity_path(entity_set, key), headers=headers)

    def _written(self, entity_set: str, response: ODataResponse) -> UpstreamRecord:
        if not isinstance(response.body, dict):
            raise UpstreamProtocolError(f"{entity_set}: a write answered without the entity", service=SERVICE)
        record = self._record(entity_set, response.body)
        if record.etag is None and response.etag is not None:
            record = UpstreamRecord(
                record.entity_set, record.id, record.values, response.etag, record.modified_at
            )
        return record

    @property
    def batch_size(self) -> int:
        """Operations per `$batch` request this connector sends."""
        return self.client.batch_size(BatchFormat.MULTIPART)

    async def batch(self, writes: Sequence[Write], *, atomic: bool = False) -> list[BatchResult]:
        """multipart `$batch`es of at most 1,000 operations; `atomic` puts each chunk in one change set."""
        operations = [_operation(write) for write in writes]
        return await self.client.batch(operations, batch_format=BatchFormat.MULTIPART, atomic=atomic)


def _is_deletion(row: Mapping[str, Any]) -> bool:
    context = row.get("@odata.context")
    return (isinstance(context, str) and context.endswith("$deletedEntity")) or row.get("reason") == "deleted"


def _operation(write: Write) -> BatchOperation:
    # return=representation: the result then carries the written row (new id, ETag) in its body.
    if write.kind is WriteKind.CREATE:
        return BatchOperation("POST", write.entity_set, body=write.values, headers=REPRESENTATION)
    if write.kind is WriteKind.ACTION:  # answers 204 (or the action's result); no entity
        return BatchOperation("POST", write.entity_set, body=write.values)
    url = entity_path(write.entity_set, write.key)
    if write.kind is WriteKind.UPSERT:
        return BatchOperation("PATCH", url, body=write.values, headers=REPRESENTATION)
    if write.kind is WriteKind.UPDATE:
        headers = {**REPRESENTATION, "If-Match": write.etag or "*"}
        return BatchOperation("PATCH", url, body=write.values, headers=headers)
    return BatchOperation("DELETE", url, headers={"If-Match": write.etag} if write.etag else {})
