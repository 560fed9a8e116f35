"""The Business Central connector: one company, API v2.0 and our integration API (DOMAIN.md §2),
read as streamed pages of records or typed values, written one by one or in JSON `$batch`es."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.domain import (
    Availability,
    BatchResult,
    Company,
    Customer,
    Item,
    UpstreamRecord,
    WebhookSubscription,
)
from gateway.errors import ConfigurationError, UpstreamProtocolError
from gateway.upstream.batch import BatchFormat, BatchOperation
from gateway.upstream.client import ODataClient, Page
from gateway.upstream.erp_rows import (
    SERVICE,
    availability_from_row,
    customer_from_row,
    item_from_row,
    subscription_from_row,
)
from gateway.upstream.odata import Key, Query, entity_path, in_filter, odata_literal
from gateway.upstream.records import as_str, to_record
from gateway.upstream.writes import Write, WriteKind

ErpApi = Literal["v2.0", "integration"]
# Service roots below `{base}/v2.0/{tenant}/{environment}/api/`.
API_PATHS: dict[str, str] = {"v2.0": "v2.0", "integration": "bcgateway/integration/v1.0"}
# Rows of a page converted between two turns of the event loop (the sync's lease renewal shares it).
_RECORDS_PER_TURN = 200


@dataclass(frozen=True, slots=True)
class ErpRead:
    """One collection read of `first_pages`: an entity set of an API with its query options."""

    entity_set: str
    api: ErpApi = "v2.0"
    query: Query = field(default_factory=Query)


class ErpConnector:
    """Business Central, for one company. `company` is a company name or id; "" means the only one.

    The company is resolved once (on first use, one `GET companies`) and cached; `company()` reads
    `companyInformation` every time, so it doubles as a reachability check.
    """

    def __init__(self, client: ODataClient, *, company: str = "") -> None:
        self.client = client
        self._company_hint = company.strip()
        self._company: Company | None = None
        self._resolve_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ErpConnector(base_url={self.client.base_url!r}, company={self._company_hint!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------------------ company

    async def companies(self) -> list[Company]:
        rows = await self._all_rows("v2.0/companies")
        return [
            Company(
                id=as_str(r.get("id")), name=as_str(r.get("name")), display_name=as_str(r.get("displayName"))
            )
            for r in rows
        ]

    async def ping(self) -> None:
        """One small read (the first company's id), for readiness: it raises unless Business Central
        answered it. Run inside a `policy.call_budget` to make it one attempt with a short timeout."""
        await self.client.get("v2.0/companies", query=Query(select=["id"], top=1))

    def _choose(self, companies: Sequence[Company]) -> Company:
        return choose_company(companies, self._company_hint)

    async def _chosen(self) -> Company:
        if self._company is None:
            async with self._resolve_lock:
                if self._company is None:
                    self._company = self._choose(await self.companies())
        return self._company

    async def company_id(self) -> str:
        return (await self._chosen()).id

    async def company(self) -> Company:
        """The company with its local currency (from `companyInformation`, read every time)."""
        chosen = await self._chosen()
        info = await self.client.get(f"v2.0/companies({chosen.id})/companyInformation")
        rows = info.get("value")
        row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else info
        return Company(
            id=chosen.id,
            name=chosen.name,
            display_name=chosen.display_name,
            currency_code=as_str(row.get("currencyCode")),
        )

    async def collection_path(self, entity_set: str, *, api: ErpApi = "v2.0", key: Key | None = None) -> str:
        """`<api>/companies(<id>)/<entity_set>[(<key>)]`, relative to the client's base URL."""
        company_id = await self.company_id()
        return f"{API_PATHS[api]}/{self._relative(company_id, entity_set, key)}"

    @staticmethod
    def _relative(company_id: str, entity_set: str, key: Key | None) -> str:
        return f"companies({company_id})/{entity_path(entity_set, key)}"

    # -------------------------------------------------------------------------------- reads

    async def _all_rows(self, target: str, query: Query | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for page in self.client.pages(target, query=query):
            rows.extend(page)
        return rows

    async def pages(
        self,
        entity_set: str,
        *,
        api: ErpApi = "v2.0",
        filter: str | None = None,
        select: Sequence[str] | None = None,
        orderby: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[list[UpstreamRecord]]:
        """Every row of `entity_set`, one page at a time (never the whole table in memory)."""
        target = await self.collection_path(entity_set, api=api)
        query = Query(filter=filter, select=select, orderby=orderby)
        async for rows in self.client.pages(target, query=query, page_size=page_size):
            page: list[UpstreamRecord] = []
            for start in range(0, len(rows), _RECORDS_PER_TURN):
                page += [self._record(entity_set, row) for row in rows[start : start + _RECORDS_PER_TURN]]
                await asyncio.sleep(0)  # a 6,000-row page held the loop 1.6 s at load 13
            yield page

    async def first_pages(self, reads: Sequence[ErpRead]) -> list[Page | None]:
        """The first page of each read, GETs sent together: one JSON `$batch` per API (each API has
        its own `$batch` endpoint), at most 100 reads each. None where the batch did not answer (read
        that one with `pages`); continue a page that has a next link with `more_pages`."""
        company_id = await self.company_id()
        found: dict[int, Page | None] = {}
        for api in dict.fromkeys(read.api for read in reads):
            positions = [i for i, read in enumerate(reads) if read.api == api]
            targets = []
            for i in positions:
                encoded = reads[i].query.encode()
                relative = self._relative(company_id, reads[i].entity_set, None)
                targets.append(f"{relative}?{encoded}" if encoded else relative)
            pages = await self.client.first_pages(targets, service_path=API_PATHS[api])
            found.update(zip(positions, pages, strict=True))
        return [found[i] for i in range(len(reads))]

    async def more_pages(self, entity_set: str, page: Page) -> AsyncIterator[list[UpstreamRecord]]:
        """The pages after `page` (from `first_pages`), following its next link."""
        if not page.rows or page.next_link is None:
            return
        async for rows in self.client.pages(page.next_link):
            yield [self._record(entity_set, row) for row in rows]

    def records(self, entity_set: str, page: Page) -> list[UpstreamRecord]:
        return [self._record(entity_set, row) for row in page.rows]

    def _record(self, entity_set: str, row: Mapping[str, Any]) -> UpstreamRecord:
        return to_record(
            row, entity_set=entity_set, key="id", modified="lastModifiedDateTime", service=SERVICE
        )

    async def customers(self, *, filter: str | None = None) -> AsyncIterator[list[Customer]]:
        async for page in self.pages("customers", filter=filter):
            yield [customer_from_row(r.values) for r in page]

    async def items(self, *, filter: str | None = None) -> AsyncIterator[list[Item]]:
        async for page in self.pages("items", filter=filter):
            yield [item_from_row(r.values) for r in page]

    async def availability(
        self,
        item_numbers: Sequence[str],
        *,
        location_codes: Sequence[str] | None = None,
        chunk_size: int = 50,
    ) -> list[Availability]:
        """Live availability (integration API `itemAvailabilities`) for these items, asked for in
        chunks of `chunk_size` numbers so that no URL grows past what servers accept."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        numbers = list(dict.fromkeys(item_numbers))  # unique, order kept
        target = await self.collection_path("itemAvailabilities", api="integration")
        result: list[Availability] = []
        for start in range(0, len(numbers), chunk_size):
            condition = in_filter("itemNumber", numbers[start : start + chunk_size])
            if location_codes:
                condition += " and " + in_filter("locationCode", list(location_codes))
            for row in await self._all_rows(target, Query(filter=condition)):
                result.append(availability_from_row(row))
        return result

    async def get(
        self, entity_set: str, id: Key, *, api: ErpApi = "v2.0", select: Sequence[str] | None = None
    ) -> UpstreamRecord:
        target = await self.collection_path(entity_set, api=api, key=id)
        return self._record(entity_set, await self.client.get(target, query=Query(select=select)))

    # ------------------------------------------------------------------------------- writes

    async def create(
        self, entity_set: str, values: Mapping[str, Any], *, api: ErpApi = "v2.0"
    ) -> UpstreamRecord:
        """POST; never repeated once it may have reached BC (a repeat could create a duplicate)."""
        target = await self.collection_path(entity_set, api=api)
        response = await self.client.request("POST", target, json_body=dict(values))
        return self._written(entity_set, response.body, response.etag)

    async def update(
        self, entity_set: str, id: Key, values: Mapping[str, Any], *, etag: str, api: ErpApi = "v2.0"
    ) -> UpstreamRecord:
        """PATCH with If-Match (BC demands it; `"*"` overwrites). A stale ETag → PreconditionFailed."""
        target = await self.collection_path(entity_set, api=api, key=id)
        response = await self.client.request(
            "PATCH", target, json_body=dict(values), headers={"If-Match": etag}
        )
        return self._written(entity_set, response.body, response.etag)

    async def delete(self, entity_set: str, id: Key, *, etag: str = "*", api: ErpApi = "v2.0") -> None:
        target = await self.collection_path(entity_set, api=api, key=id)
        await self.client.request("DELETE", target, headers={"If-Match": etag})

    def _written(self, entity_set: str, body: object, etag: str | None) -> UpstreamRecord:
        if not isinstance(body, dict):
            raise UpstreamProtocolError(f"{entity_set}: a write answered without the entity", service=SERVICE)
        record = self._record(entity_set, body)
        if record.etag is None and etag is not None:
            record = UpstreamRecord(record.entity_set, record.id, record.values, etag, record.modified_at)
        return record

    @property
    def batch_size(self) -> int:
        """Operations per `$batch` request this connector sends."""
        return self.client.batch_size(BatchFormat.JSON)

    async def batch(
        self, writes: Sequence[Write], *, api: ErpApi = "v2.0", atomic: bool = False
    ) -> list[BatchResult]:
        """JSON `$batch`es of at most 100 operations; `atomic` sends `Isolation: snapshot`."""
        company_id = await self.company_id()
        operations = [self._operation(company_id, write) for write in writes]
        return await self.client.batch(
            operations, batch_format=BatchFormat.JSON, service_path=API_PATHS[api], atomic=atomic
        )

    def _operation(self, company_id: str, write: Write) -> BatchOperation:
        if write.kind is WriteKind.ACTION:
            raise ValueError("the ERP connector sends no unbound actions")
        if write.kind is WriteKind.CREATE:
            return BatchOperation(
                "POST", self._relative(company_id, write.entity_set, None), body=write.values
            )
        url = self._relative(company_id, write.entity_set, write.key)
        if write.kind is WriteKind.UPDATE:
            return BatchOperation("PATCH", url, body=write.values, headers={"If-Match": write.etag or "*"})
        if write.kind is WriteKind.DELETE:
            return BatchOperation("DELETE", url, headers={"If-Match": write.etag or "*"})
        raise ValueError("Business Central has no upsert: read, then create or update")

    # ------------------------------------------------------------------ webhook subscriptions
    # BC keeps subscriptions per environment at `api/v2.0/subscriptions`; creating or renewing one
    # makes BC call the notification URL with `?validationToken=` first (the handshake).

    async def subscription_resource(self, entity_set: str, *, api: ErpApi = "v2.0") -> str:
        """The `resource` of a subscription to `entity_set`: `/api/v2.0/companies(<id>)/customers`."""
        return "/api/" + await self.collection_path(entity_set, api=api)

    async def subscriptions(self) -> list[WebhookSubscription]:
        """Every subscription of the environment (ours and anybody else's)."""
        return [subscription_from_row(row) for row in await self._all_rows(SUBSCRIPTIONS)]

    async def create_subscription(
        self, *, resource: str, notification_url: str, client_state: str
    ) -> WebhookSubscription:
        """POST; BC answers 400 (UpstreamBadRequest) when the handshake with the URL fails."""
        body = {"notificationUrl": notification_url, "resource": resource, "clientState": client_state}
        response = await self.client.request("POST", SUBSCRIPTIONS, json_body=body)
        return self._subscription(response.body, response.etag)

    async def renew_subscription(
        self, subscription: WebhookSubscription, *, notification_url: str, client_state: str
    ) -> WebhookSubscription:
        """PATCH with If-Match (BC's renewal: another handshake, the expiry pushed out by 3 days).
        A subscription BC removed meanwhile raises UpstreamNotFound; a stale ETag PreconditionFailed."""
        body = {
            "notificationUrl": notification_url,
            "resource": subscription.resource,
            "clientState": client_state,
        }
        response = await self.client.request(
            "PATCH",
            _subscription_path(subscription.id),
            json_body=body,
            headers={"If-Match": subscription.etag},
        )
        return self._subscription(response.body, response.etag)

    async def delete_subscription(self, subscription: WebhookSubscription) -> None:
        await self.client.request(
            "DELETE", _subscription_path(subscription.id), headers={"If-Match": subscription.etag}
        )

    def _subscription(self, body: object, etag: str | None) -> WebhookSubscription:
        if not isinstance(body, dict):
            raise UpstreamProtocolError("subscriptions: a write answered without the entity", service=SERVICE)
        return subscription_from_row(
            body if etag is None or body.get("@odata.etag") else {**body, "@odata.etag": etag}
        )


SUBSCRIPTIONS = "v2.0/subscriptions"


def _subscription_path(subscription_id: str) -> str:
    return f"{SUBSCRIPTIONS}({odata_literal(subscription_id)})"


def choose_company(companies: Sequence[Company], hint: str) -> Company:
    """The company `hint` names (by id, name or display name); "" → the only one. Anything else is a
    ConfigurationError naming GATEWAY_ERP_COMPANY and listing the companies there are."""
    names = ", ".join(repr(c.name) for c in companies) or "none"
    if not hint:
        if len(companies) == 1:
            return companies[0]
        problem = "must name one company" if companies else "the ERP environment has no company"
        raise ConfigurationError("GATEWAY_ERP_COMPANY", f"{problem} (companies: {names})")
    matches = [c for c in companies if c.id.lower() == hint.lower()] or [
        c for c in companies if hint in (c.name, c.display_name)
    ]
    if len(matches) == 1:
        return matches[0]
    problem = "matches several companies" if matches else "matches no company"
    raise ConfigurationError("GATEWAY_ERP_COMPANY", f"{hint!r} {problem} (companies: {names})")
