"""The Business Central connector against the ERP simulator: company resolution, typed pages,
chunked availability, and single-record writes with ETags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.domain import Company
from gateway.errors import ConfigurationError, PreconditionFailed, UpstreamNotFound
from gateway.upstream.erp import ErpConnector, ErpRead, choose_company
from gateway.upstream.odata import Query
from tests.upstream.conftest import Upstream

A = Company(id="11111111-1111-4111-8111-111111111111", name="CRONUS", display_name="CRONUS USA, Inc.")
B = Company(id="22222222-2222-4222-8222-222222222222", name="NORTHWIND", display_name="Northwind")


def test_choose_company() -> None:
    assert choose_company([A], "") == A
    assert choose_company([A, B], "NORTHWIND") == B
    assert choose_company([A, B], "CRONUS USA, Inc.") == A
    assert choose_company([A, B], B.id.upper()) == B
    for companies, hint, words in [
        ([A, B], "", "must name one company"),
        ([], "", "no company"),
        ([A, B], "Fabrikam", "matches no company"),
        ([A, Company(id="3", name="CRONUS", display_name="x")], "CRONUS", "several"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            choose_company(companies, hint)
        assert caught.value.setting == "GATEWAY_ERP_COMPANY"
        assert words in caught.value.problem


async def test_company_by_default_name_and_id(erp_sim: Upstream) -> None:
    company = await ErpConnector(erp_sim.client()).company()
    assert company.currency_code and company.name and company.id
    assert await ErpConnector(erp_sim.client(), company=company.name).company() == company
    assert await ErpConnector(erp_sim.client(), company=company.id).company() == company
    with pytest.raises(ConfigurationError):
        await ErpConnector(erp_sim.client(), company="No Such Company").company()


async def test_company_id_is_resolved_once(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client())
    async for _ in erp.pages("items"):
        pass
    async for _ in erp.pages("customers"):
        pass
    companies = [r for r in erp_sim.transport.api() if r.url.path.endswith("/companies")]
    assert len(companies) == 1
    # company() reuses the resolved company and reads only companyInformation (each time).
    first, again = await erp.company(), await erp.company()
    assert first == again and first.id == await erp.company_id()
    paths = [r.url.path for r in erp_sim.transport.api()]
    assert sum(p.endswith("/companies") for p in paths) == 1
    assert sum(p.endswith("/companyInformation") for p in paths) == 2


async def test_typed_customers_and_items(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(page_size=9))
    customers = [c async for page in erp.customers() for c in page]
    assert len(customers) == erp_sim.options.customers == len({c.erp_id for c in customers})
    assert all(c.number and c.name and c.modified_at is not None for c in customers)
    assert all(isinstance(c.credit_limit, Decimal) for c in customers)
    items = [i async for page in erp.items() for i in page]
    assert len(items) == erp_sim.options.items
    assert all(i.number and i.base_unit_of_measure_code for i in items)
    filtered = [c async for page in erp.customers(filter=f"number eq '{customers[3].number}'") for c in page]
    assert filtered == [customers[3]]


async def test_generic_pages_of_the_integration_api(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(page_size=50))
    records = [r async for page in erp.pages("priceListLines", api="integration") for r in page]
    assert records and all(r.entity_set == "priceListLines" and r.id and r.etag for r in records)
    picked = [
        r
        async for page in erp.pages(
            "itemUnitsOfMeasure",
            api="integration",
            select=["id", "itemNumber", "code"],
            orderby=["itemNumber"],
        )
        for r in page
    ]
    assert picked and all(set(r.values) == {"id", "itemNumber", "code"} for r in picked)
    numbers = [r.values["itemNumber"] for r in picked]
    assert numbers == sorted(numbers)


async def test_availability_is_chunked(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(page_size=1000))
    numbers = [i.number async for page in erp.items() for i in page]
    erp_sim.transport.requests.clear()
    rows = await erp.availability(numbers + numbers[:5], chunk_size=15)  # duplicates asked once
    asked = [r for r in erp_sim.transport.api() if "itemAvailabilities" in r.url.path]
    assert len(asked) == 3  # 40 distinct numbers in chunks of 15
    assert {row.item_number for row in rows} <= set(numbers)
    assert all(row.available_quantity == row.inventory - row.qty_on_sales_orders for row in rows)
    locations = sorted({row.location_code for row in rows})
    assert len(locations) >= 3
    some = await erp.availability(numbers[:10], location_codes=locations[:2])
    assert some and {row.location_code for row in some} <= set(locations[:2])
    one = await erp.availability(numbers[:1], location_codes=locations[:1])
    assert [(row.item_number, row.location_code) for row in one] == [(numbers[0], locations[0])]


async def test_get_create_update_delete_with_etags(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client())
    created = await erp.create("customers", {"displayName": "O'Brien & Sons", "city": "Zürich"})
    assert created.etag and created.values["displayName"] == "O'Brien & Sons"
    assert (await erp.get("customers", created.id)).values["city"] == "Zürich"
    updated = await erp.update("customers", created.id, {"city": "Genève"}, etag=created.etag)
    assert updated.etag != created.etag and updated.values["city"] == "Genève"
    with pytest.raises(PreconditionFailed):
        await erp.update("customers", created.id, {"city": "Bern"}, etag=created.etag)
    with pytest.raises(PreconditionFailed):
        await erp.delete("customers", created.id, etag=created.etag)
    await erp.delete("customers", created.id, etag=updated.etag or "*")
    with pytest.raises(UpstreamNotFound):
        await erp.get("customers", created.id)
    patches = erp_sim.transport.api("PATCH")
    assert all(r.headers["if-match"] for r in patches)


async def test_first_pages_share_one_batch_per_api_and_continue_by_next_link(erp_sim: Upstream) -> None:
    erp = ErpConnector(erp_sim.client(page_size=4))
    expected = {
        name: [r.id async for page in erp.pages(name, api=api) for r in page]  # type: ignore[arg-type]
        for name, api in (("customers", "v2.0"), ("items", "v2.0"), ("customerPriceGroups", "integration"))
    }
    before = len(erp_sim.transport.api())
    reads = [
        ErpRead("customers"),
        ErpRead("customerPriceGroups", "integration"),
        ErpRead("noSuchSet", "integration"),
        ErpRead("items", query=Query(filter="number ne ''", orderby=["number"])),
    ]
    pages = await erp.first_pages(reads)
    sent = erp_sim.transport.api()[before:]
    assert sorted(r.url.path.rsplit("/", 2)[-2] + "/$batch" for r in sent) == [
        "v1.0/$batch",
        "v2.0/$batch",
    ]
    assert pages[2] is None  # the batch answered 404 for it: the caller reads it on its own
    for read, page in zip(reads, pages, strict=True):
        if page is None:
            continue
        assert len(page.rows) <= 4
        ids = [r.id for r in erp.records(read.entity_set, page)]
        ids += [r.id async for more in erp.more_pages(read.entity_set, page) for r in more]
        assert sorted(ids) == sorted(expected[read.entity_set]), read.entity_set
