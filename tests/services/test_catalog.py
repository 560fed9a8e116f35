"""The catalog service over a seeded read model: typed filters, cursors and their errors, lookups,
relations in batches, and who sees which customers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.domain import CouplingStatus, Principal, Role
from gateway.errors import InvalidInput
from gateway.services import cursors
from gateway.services.catalog import CatalogFilter, CatalogService
from gateway.services.catalog_lines import CustomerLineKey, LineKey
from gateway.store.engine import count_queries, create_engine, read_session_factory
from gateway.store.migrate import upgrade_engine
from tests.read_model_seed import Seeded, seed_read_model

ADMIN = Principal(key_id="a", role=Role.ADMIN)
APP = Principal(key_id="b", role=Role.APP)


def sales(code: str | None) -> Principal:
    return Principal(key_id="s", role=Role.SALES, salesperson_code=code)


class World:
    def __init__(self, seeded: Seeded, own: CatalogService, all_: CatalogService, engine: object) -> None:
        self.seeded, self.own, self.all, self.engine = seeded, own, all_, engine


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/catalog.db")
    await upgrade_engine(engine)
    seeded = await seed_read_model(engine, customers=60, items=30)
    sessions = read_session_factory(engine)
    yield World(
        seeded,
        CatalogService(sessions=sessions, sales_scope="own"),
        CatalogService(sessions=sessions, sales_scope="all"),
        engine,
    )
    await engine.dispose()


async def _everything(service: CatalogService, principal: Principal, **kwargs: object) -> list[Any]:
    found: list[Any] = []
    after = None
    while True:
        page = await service.list_customers(principal, first=200, after=after, **kwargs)  # type: ignore[arg-type]
        found.extend(page.nodes)
        if not page.has_next_page:
            return found
        after = page.end_cursor


async def test_search_matches_number_or_name_in_any_case(world: World) -> None:
    page = await world.all.list_customers(APP, filter=CatalogFilter(search="o'BRIEN & mü"))
    assert [c.name for c in page.nodes] == ["O'Brien & Müller Interiors"]
    page = await world.all.list_customers(APP, filter=CatalogFilter(search="c1001"))
    assert page.nodes and all(c.number.startswith("C1001") for c in page.nodes)
    # LIKE wildcards in the text are literal characters, not patterns
    assert (await world.all.list_customers(APP, filter=CatalogFilter(search="%"))).nodes == []


async def test_filters_by_salesperson_blocked_state_and_change_time(world: World) -> None:
    customers = world.seeded.data.erp["customers"]
    kw = await world.all.list_customers(APP, filter=CatalogFilter(salesperson_code="KW"), first=200)
    assert {c.number for c in kw.nodes} >= {c["number"] for c in customers if c["salespersonCode"] == "KW"}
    assert all(c.salesperson_code == "KW" for c in kw.nodes)
    blocked = await world.all.list_customers(APP, filter=CatalogFilter(blocked=True), first=200)
    assert {c.number for c in blocked.nodes} == {c["number"] for c in customers if c["blocked"] != " "}
    states = frozenset({CouplingStatus.CRM_ONLY, CouplingStatus.ERROR})
    odd = await world.all.list_customers(APP, filter=CatalogFilter(coupling_states=states), first=200)
    assert odd.nodes and {c.coupling_state for c in odd.nodes} == set(states)
    since = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    recent = await world.all.list_customers(APP, filter=CatalogFilter(changed_since=since), first=200)
    assert recent.nodes and all(
        (c.modified_at and c.modified_at >= since) or c.coupling_state is CouplingStatus.COUPLED
        for c in recent.nodes
    )
    assert await recent.total_count() == len(recent.nodes)


async def test_cursors_walk_the_list_and_bad_input_is_invalid(world: World) -> None:
    everything = await _everything(world.all, APP, order_by="-name")
    assert len(everything) == await (await world.all.list_customers(APP)).total_count()
    first = await world.all.list_customers(APP, first=5, order_by="name")
    with pytest.raises(InvalidInput) as wrong_order:
        await world.all.list_customers(APP, first=5, order_by="-name", after=first.end_cursor)
    assert wrong_order.value.field == "after"
    assert first.end_cursor is not None
    for garbage in ("abc", "eyJrIjpbMSwyXX0", first.end_cursor[:-3], "!!"):
        with pytest.raises(InvalidInput):
            await world.all.list_customers(APP, first=5, order_by="name", after=garbage)
    # well-formed cursors with a position of the wrong type never reach SQL
    crafted = [
        (cursors.encode_position((5, "erp", "x"), order="number", kind="customers"), "number"),
        (cursors.encode_position(("yesterday", "erp", "x"), order="changed", kind="customers"), "changed"),
        (
            cursors.encode_position(("2026-01-01T00:00:00", "erp", "x"), order="-changed", kind="customers"),
            "-changed",
        ),
        (cursors.encode_position(("a", "both", "x"), order="name", kind="customers"), "name"),
    ]
    for cursor, order in crafted:
        with pytest.raises(InvalidInput):
            await world.all.list_customers(APP, first=5, order_by=order, after=cursor)
    for size in (0, 201, -1):
        with pytest.raises(InvalidInput) as too_big:
            await world.all.list_customers(APP, first=size)
        assert too_big.value.field == "first"
    with pytest.raises(InvalidInput):
        await world.all.list_customers(APP, order_by="balance")


async def test_get_by_exactly_one_key(world: World) -> None:
    erp_id, crm_id = world.seeded.coupled["CUSTOMER"][0]
    by_crm = await world.all.get_customer(APP, crm_id=crm_id)
    assert by_crm is not None and by_crm.erp_id == erp_id and by_crm.coupling_state is CouplingStatus.COUPLED
    assert await world.all.get_customer(APP, number=by_crm.number) == by_crm
    assert await world.all.get_customer(APP, number="NOPE") is None
    assert await world.all.get_customer(APP, erp_id="not-a-guid") is None
    with pytest.raises(InvalidInput):
        await world.all.get_customer(APP, number="C10000", erp_id=erp_id)
    with pytest.raises(InvalidInput):
        await world.all.get_customer(APP)
    assert (await world.all.get_item(APP, number="1004-S")) is not None
    price_list = await world.all.get_price_list(APP, code="S00001")
    assert price_list is not None and price_list.source_type == "AllCustomers"


async def test_a_sales_key_with_scope_own_sees_only_its_customers(world: World) -> None:
    mine = await _everything(world.own, sales("KW"))
    assert mine and all(c.salesperson_code == "KW" for c in mine)
    everyone = await _everything(world.own, ADMIN)
    assert len(everyone) > len(mine)
    assert await _everything(world.own, APP) == everyone  # app keys read everything
    assert await _everything(world.own, sales(None)) == []  # a sales key without a salesperson sees none
    assert await _everything(world.all, sales("KW")) == everyone  # scope "all"
    other = next(c for c in everyone if c.salesperson_code not in ("KW", "") and c.number)
    assert await world.own.get_customer(sales("KW"), number=other.number) is None
    assert await world.own.get_customer(ADMIN, number=other.number) == other
    # the scope is applied in the COUNT too, so totals never leak
    page = await world.own.list_customers(sales("KW"), first=1)
    assert await page.total_count() == len(mine)


async def test_a_pages_relations_in_one_statement_equal_the_loaders_answers(world: World) -> None:
    """`customer_relations` (what the GraphQL customers page primes its loaders with) gives what
    each batch loader gives, for ERP customers and CRM-only accounts alike, in one statement."""
    customers = await _everything(world.all, ADMIN)
    crm_only = [c for c in customers if c.erp_id is None]
    assert crm_only and any(c.crm_owner_id for c in crm_only)
    for page in (customers[:200], customers[-200:]):
        with count_queries(world.engine) as counter:  # type: ignore[arg-type]
            found = await world.all.customer_relations(ADMIN, page)
        assert counter.count == 1
        codes = list(found.salespeople_by_code)
        owners = list(found.salespeople_by_crm_id)
        currencies = list(found.currencies_by_code)
        listed = list(found.default_price_lists)
        assert codes == list(dict.fromkeys(c.salesperson_code for c in page if c.salesperson_code))
        assert currencies == list(dict.fromkeys(c.currency_code for c in page if c.currency_code))
        assert list(found.salespeople_by_code.values()) == await world.all.salespeople_by_codes(ADMIN, codes)
        assert list(found.salespeople_by_crm_id.values()) == await world.all.salespeople_by_crm_ids(
            ADMIN, owners
        )
        assert list(found.currencies_by_code.values()) == await world.all.currencies_by_codes(
            ADMIN, currencies
        )
        assert list(found.default_price_lists.values()) == await world.all.default_price_lists(ADMIN, listed)
        assert any(found.salespeople_by_code.values()) and any(found.default_price_lists.values())
    assert any(found.salespeople_by_crm_id.values())  # the last page holds the CRM-only accounts
    nothing = await world.all.customer_relations(ADMIN, customers[:5], salesperson=False, currency=False)
    assert not nothing.salespeople_by_code and not nothing.currencies_by_code


async def test_relations_load_in_batches(world: World) -> None:
    customers = (await world.all.list_customers(APP, first=60)).nodes
    with count_queries(world.engine) as counter:  # type: ignore[arg-type]
        sellers = await world.all.salespeople_by_codes(APP, [c.salesperson_code for c in customers])
        currencies = await world.all.currencies_by_codes(APP, [c.currency_code for c in customers])
        lists = await world.all.default_price_lists(APP, customers)
    assert counter.count <= 4
    assert len(sellers) == len(currencies) == len(lists) == len(customers)
    for customer, seller, currency, price_list in zip(customers, sellers, currencies, lists, strict=True):
        if customer.salesperson_code:
            assert seller is not None and seller.code == customer.salesperson_code
        assert currency is not None and currency.code == customer.currency_code
        if customer.price_group_code:
            assert price_list is not None and price_list.source_no == customer.price_group_code
    with_group = next(c for c in customers if c.price_group_code)
    pages = await world.all.lines_for_customers(APP, [CustomerLineKey(with_group, first=200)])
    sources = {(ln.source_type, ln.source_no) for ln in pages[0].nodes}
    erp = world.seeded.data.erp
    active = {h["code"] for h in erp["priceListHeaders"] if h["status"] == "Active"}
    applicable = {
        ("AllCustomers", ""),
        ("Customer", with_group.number),
        ("CustomerPriceGroup", with_group.price_group_code),
        ("CustomerDiscountGroup", with_group.discount_group_code),
    }
    assert await pages[0].total_count() == sum(
        1
        for r in erp["priceListLines"]
        if (r["sourceType"], r["sourceNo"]) in applicable and r["priceListCode"] in active
    )
    assert ("CustomerPriceGroup", with_group.price_group_code) in sources
    assert sources <= {
        ("AllCustomers", ""),
        ("Customer", with_group.number),
        ("CustomerPriceGroup", with_group.price_group_code),
        ("CustomerDiscountGroup", with_group.discount_group_code),
    }


async def test_price_list_lines_page_with_their_own_cursor(world: World) -> None:
    (first,) = await world.all.lines_of_price_lists(APP, [LineKey("S00001", first=3)])
    assert len(first.nodes) == 3 and first.has_next_page
    rows = world.seeded.data.erp["priceListLines"]
    assert await first.total_count() == sum(1 for r in rows if r["priceListCode"] == "S00001")
    item = rows[0]["assetNo"]
    (item_page,) = await world.all.lines_of_items(APP, [LineKey(item, first=1)])
    assert await item_page.total_count() == sum(
        1 for r in rows if r["assetType"] == "Item" and r["assetNo"] == item
    )
    (second,) = await world.all.lines_of_price_lists(
        APP, [LineKey("S00001", first=3, after=first.end_cursor)]
    )
    assert second.nodes[0].line_no > first.nodes[-1].line_no
    with pytest.raises(InvalidInput):
        await world.all.lines_of_price_lists(APP, [LineKey("S00001", first=3, after="garbage")])
    units = await world.all.units_of_items(APP, ["1004-S", "NOPE"])
    assert {u.code for u in units[0]} >= {"PCS"} and units[1] == []
