"""The read model on SQLite and PostgreSQL: bulk idempotent projections, deletions, unified records
with their coupling state, keyset pages that neither skip nor repeat, and reads beside a writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import CouplingStatus, PriceRequest, Side, UpstreamRecord
from gateway.services.price_engine import PricingSnapshot, quote_line
from gateway.store import read_catalog, read_lines, read_versions
from gateway.store.engine import count_queries, read_session_factory
from gateway.store.read_model import RmCustomer, RmPriceLine
from gateway.store.read_pricing import load_currency_tables, load_pricing_data
from gateway.store.read_projection import project_records, projected_entity_sets, remove_records
from gateway.store.read_queries import Filters, Order
from tests.read_model_seed import Seeded, seed_read_model


def _customer(i: int, **changes: Any) -> UpstreamRecord:
    values = {
        "number": f"C{i:06d}",
        "displayName": f"Customer {i}",
        "salespersonCode": "KW" if i % 2 else "CN",
        "creditLimit": 1000.5,
        "blocked": " ",
        "lastModifiedDateTime": "2026-01-02T03:04:05Z",
        **changes,
    }
    return UpstreamRecord("customers", f"00000000-0000-4000-8000-{i:012d}", values)


async def _count(session: AsyncSession, model: Any) -> int:
    return int((await session.exec(select(func.count()).select_from(model))).scalar_one())  # type: ignore[call-overload]


async def test_a_20000_row_page_is_a_few_statements_and_idempotent(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    records = [_customer(i) for i in range(20_000)]
    async with sessions() as session:
        with count_queries(engine) as counter:
            written = await project_records(session, side=Side.ERP, entity_set="customers", records=records)
        await session.commit()
    assert written == 20_000
    assert counter.count <= 4, counter.statements  # executemany per 5,000 rows, not a round trip per row
    async with sessions() as session:
        await project_records(session, side=Side.ERP, entity_set="customers", records=records[:10])
        await project_records(
            session,
            side=Side.ERP,
            entity_set="customers",
            records=[_customer(5, displayName="Renamed", creditLimit="12.25", blocked="All")],
        )
        await session.commit()
        assert await _count(session, RmCustomer) == 20_000
        row = await session.get(RmCustomer, ("erp", "00000000-0000-4000-8000-000000000005"))
        assert row is not None
        assert (row.name, row.blocked, float(row.credit_limit)) == ("Renamed", "All", 12.25)
        assert row.modified_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_unknown_sets_are_ignored_and_deletes_remove_only_their_side(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    same_id = "11111111-2222-4333-8444-555555555555"
    async with sessions() as session:
        ignored = await project_records(
            session, side=Side.ERP, entity_set="salesOrders", records=[UpstreamRecord("salesOrders", "x", {})]
        )
        assert ignored == 0
        erp = UpstreamRecord("customers", same_id.upper(), {"number": "C1", "displayName": "A"})
        crm = UpstreamRecord("accounts", same_id, {"name": "A", "customertypecode": 3})
        await project_records(session, side=Side.ERP, entity_set="customers", records=[erp])
        await project_records(session, side=Side.CRM, entity_set="accounts", records=[crm])
        assert (
            await _count(session, RmCustomer) == 2
        )  # ids normalized: the upper-case GUID is the same record
        assert await remove_records(session, side=Side.CRM, entity_set="accounts", ids=[same_id]) == 1
        assert await remove_records(session, side=Side.CRM, entity_set="accounts", ids=[same_id]) == 0
        assert await remove_records(session, side=Side.ERP, entity_set="nothing", ids=[same_id]) == 0
        await session.commit()
        assert await _count(session, RmCustomer) == 1
    assert {"customers", "priceListLines", "customerPricing"} <= projected_entity_sets(Side.ERP)
    assert projected_entity_sets(Side.CRM) >= {"accounts", "products", "pricelevels", "systemusers"}


async def test_the_local_currency_is_bc_company_information_and_raises_the_currencies_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    company = "33333333-2222-4333-8444-555555555555"
    async with sessions() as session:
        assert (await load_currency_tables(session)).local_currency_code == ""  # before the sync read it
        assert await read_versions.current(session, read_versions.CURRENCIES) is None
        for code in ("USD", "GBP"):
            row = UpstreamRecord(
                "companyInformation", company, {"displayName": "CRONUS", "currencyCode": code}
            )
            await project_records(session, side=Side.ERP, entity_set="companyInformation", records=[row])
            await session.commit()
            assert (await load_currency_tables(session)).local_currency_code == code
        # Each write told the processes keeping the currency tables to read them again.
        version = await read_versions.current(session, read_versions.CURRENCIES)
        assert version is not None and version[1] == 2


@pytest.fixture
async def seeded(engine: AsyncEngine) -> Seeded:
    return await seed_read_model(engine, customers=40, items=20)


async def _all(engine: AsyncEngine, kind: read_catalog.Kind, **filters: Any) -> list[Any]:
    async with read_session_factory(engine)() as session:
        rows = await read_catalog.list_records(
            session, kind=kind, filters=Filters(**filters), order=Order("number"), after=None, limit=10_000
        )
    return [node for node, _ in rows]


async def test_unified_customers_carry_both_ids_and_their_coupling_state(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    customers = await _all(engine, "customers")
    by_erp = {c.erp_id: c for c in customers if c.erp_id}
    coupled = seeded.coupled["CUSTOMER"]
    (errored,) = seeded.errored["CUSTOMER"]
    for erp_id, crm_id in coupled:
        assert by_erp[erp_id].coupling_state is CouplingStatus.COUPLED
        assert by_erp[erp_id].crm_id == crm_id
    assert by_erp[errored[0]].coupling_state is CouplingStatus.ERROR
    coupled_crm = {crm for _, crm in coupled} | {errored[1]}
    crm_only = [c for c in customers if c.erp_id is None]
    assert crm_only and all(c.coupling_state is CouplingStatus.CRM_ONLY for c in crm_only)
    assert not coupled_crm & {c.crm_id for c in crm_only}, "a coupled account shows once, as its customer"
    accounts = [a for a in seeded.data.crm["accounts"] if a.get("customertypecode") in (3, None)]
    assert len(customers) == len(seeded.data.erp["customers"]) + len(accounts) - len(coupled_crm)
    erp_only = [c for c in customers if c.coupling_state is CouplingStatus.ERP_ONLY]
    assert erp_only and all(c.crm_id is None for c in erp_only)
    only = await _all(engine, "customers", coupling_states=frozenset({CouplingStatus.COUPLED}))
    assert {c.erp_id for c in only} == {erp for erp, _ in coupled}


async def test_a_coupled_record_is_found_by_either_id_and_by_number(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    erp_id, crm_id = seeded.coupled["CUSTOMER"][0]
    async with read_session_factory(engine)() as session:
        by_crm = await read_catalog.records_by(
            session, kind="customers", column="crm_id", values=[crm_id.upper()]
        )
        by_erp = await read_catalog.records_by(session, kind="customers", column="erp_id", values=[erp_id])
        number = by_erp[erp_id].number
        by_number = await read_catalog.records_by(session, kind="customers", column="number", values=[number])
    assert by_crm[crm_id] == by_erp[erp_id] == by_number[number]
    assert by_number[number].coupling_state is CouplingStatus.COUPLED


@pytest.mark.parametrize("order", [Order("number"), Order("name", descending=True), Order("changed")])
async def test_keyset_pages_walk_every_record_once_in_order(
    engine: AsyncEngine, seeded: Seeded, order: Order
) -> None:
    everything = await _all(engine, "customers")
    seen: list[Any] = []
    after = None
    async with read_session_factory(engine)() as session:
        while True:
            page = await read_catalog.list_records(
                session, kind="customers", filters=Filters(), order=order, after=after, limit=7
            )
            seen.extend(node for node, _ in page)
            if len(page) < 7:
                break
            after = page[-1][1]

    def key(c: Any) -> Any:
        return {"number": c.number, "name": c.name, "changed": c.modified_at}[order.field]

    assert len(seen) == len(everything)
    assert {(c.erp_id, c.crm_id) for c in seen} == {(c.erp_id, c.crm_id) for c in everything}
    values = [key(c) for c in seen]
    filled = [v for v in values if v != ""]
    # records whose number or name is blank (CRM-only accounts) come after the others, either way
    assert values == sorted(filled, reverse=order.descending) + [""] * (len(values) - len(filled))


async def test_a_row_inserted_behind_the_cursor_does_not_shift_the_next_page(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], seeded: Seeded
) -> None:
    async with read_session_factory(engine)() as session:
        first = await read_catalog.list_records(
            session, kind="customers", filters=Filters(), order=Order("number"), after=None, limit=10
        )
    async with sessions() as session:  # a number that sorts before everything on the first page
        await project_records(
            session, side=Side.ERP, entity_set="customers", records=[_customer(1, number="")]
        )
        await session.commit()
    async with read_session_factory(engine)() as session:
        second = await read_catalog.list_records(
            session, kind="customers", filters=Filters(), order=Order("number"), after=first[-1][1], limit=10
        )
    assert not {n.erp_id or n.crm_id for n, _ in first} & {n.erp_id or n.crm_id for n, _ in second}
    assert second[0][1] > first[-1][1]


async def test_price_lines_are_paged_per_owner_in_one_statement(engine: AsyncEngine, seeded: Seeded) -> None:
    codes = sorted({h["code"] for h in seeded.data.erp["priceListHeaders"]})[:5]
    async with read_session_factory(engine)() as session:
        with count_queries(engine) as counter:
            pages = await read_lines.lines_of_price_lists(session, codes=codes, first=2, after=None)
        total = await session.exec(  # type: ignore[call-overload]
            select(col(RmPriceLine.price_list_code), func.count()).group_by(col(RmPriceLine.price_list_code))
        )
        counts = dict(total.all())
    assert counter.count == 1
    for code in codes:
        lines = pages.get(code, [])
        assert len(lines) == min(3, counts.get(code, 0))  # first + 1: the extra line says "more"
        assert [ln.line_no for ln in lines] == sorted(ln.line_no for ln in lines)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_read_proceeds_while_a_write_transaction_is_open(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Writers take SQLite's write lock at BEGIN (IMMEDIATE); read sessions use a deferred BEGIN and
    read the last committed snapshot (WAL) instead of queueing behind a long sync page."""
    async with sessions() as writer:
        await project_records(session=writer, side=Side.ERP, entity_set="customers", records=[_customer(1)])
        # The writer holds the lock now: a second writer would wait for busy_timeout.
        async with read_session_factory(engine)() as reader:
            seen = await asyncio.wait_for(_count(reader, RmCustomer), timeout=2)
        assert seen == 0  # the uncommitted row is invisible
        await writer.commit()
    async with read_session_factory(engine)() as reader:
        assert await _count(reader, RmCustomer) == 1
        mode = (await reader.exec(text("PRAGMA journal_mode"))).scalar_one()  # type: ignore[call-overload]
    assert str(mode).lower() == "wal"


async def test_crm_only_accounts_and_items_come_from_their_own_rows(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    products = await _all(engine, "items", coupling_states=frozenset({CouplingStatus.CRM_ONLY}))
    crm_numbers = {p["productnumber"] for p in seeded.data.crm["products"]}
    assert products and {p.number for p in products} <= crm_numbers
    currencies = await _all(engine, "currencies")
    # The local currency exists only in Dataverse (BC keeps it blank): served as CRM-only.
    assert any(c.code == seeded.data.local_currency and c.erp_id is None for c in currencies)
    assert await _all(engine, "customers", search="zzz-no-such") == []


async def test_pricing_data_holds_every_candidate_line_and_prices_a_quote(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    erp = seeded.data.erp
    profile = next(
        p for p in erp["customerPricing"] if p["customerPriceGroupCode"] and p["customerDiscountGroupCode"]
    )
    numbers = [i["number"] for i in erp["items"][:6]]
    async with read_session_factory(engine)() as session:
        with count_queries(engine) as counter:
            data = await load_pricing_data(
                session, customer_numbers=[profile["customerNumber"], "NOPE"], item_numbers=[*numbers, "NOPE"]
            )
    assert counter.count == 7  # currencies, rates, the local currency (kept between quotes), 4 more
    assert set(data.customers) == {profile["customerNumber"]}
    assert (
        data.customers[profile["customerNumber"]].customer_price_group_code
        == profile["customerPriceGroupCode"]
    )
    assert set(data.items) == set(numbers) == set(data.item_pricing)
    units = {(u["itemNumber"], u["code"]) for u in erp["itemUnitsOfMeasure"] if u["itemNumber"] in numbers}
    assert set(data.item_units) == units
    assert data.currencies[seeded.data.local_currency].amount_rounding_precision == Decimal("0.01")
    # brute force over the raw rows: the same candidate lines, no more, no fewer
    groups = {p["itemDiscountGroupCode"] for p in erp["itemPricing"] if p["itemNumber"] in numbers} - {""}
    sources = {
        ("AllCustomers", ""),
        ("Customer", profile["customerNumber"]),
        ("CustomerPriceGroup", profile["customerPriceGroupCode"]),
        ("CustomerDiscountGroup", profile["customerDiscountGroupCode"]),
    }
    expected = {
        (r["priceListCode"], r["lineNo"])
        for r in erp["priceListLines"]
        if (r["sourceType"], r["sourceNo"]) in sources or r["sourceType"] == "AllCustomers"
        if (r["assetType"] == "Item" and r["assetNo"] in numbers)
        or (r["assetType"] == "ItemDiscountGroup" and r["assetNo"] in groups)
    }
    assert {(ln.price_list_code, ln.line_no) for ln in data.lines} == expected and expected
    snapshot = PricingSnapshot(
        local_currency_code=seeded.data.local_currency,
        currencies=data.currencies,
        exchange_rates=data.exchange_rates,
        customers=data.customers,
        items=data.items,
        item_pricing=data.item_pricing,
        item_units=data.item_units,
        lines=data.lines,
    )
    item = data.items[numbers[-1]]
    quote = quote_line(
        PriceRequest(
            customer_number=profile["customerNumber"],
            item_number=item.number,
            quantity=Decimal(3),
            unit_of_measure_code=item.base_unit_of_measure_code,
            currency_code="",
            on_date=date(2026, 11, 25),
        ),
        snapshot=snapshot,
    )
    assert quote.unit_price > 0 and quote.line_amount > 0


async def test_customer_and_item_line_pages_match_the_rows_on_both_databases(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    erp = seeded.data.erp
    active = {h["code"] for h in erp["priceListHeaders"] if h["status"] == "Active"}
    profiles = [p for p in erp["customerPricing"] if p["customerPriceGroupCode"]][:3]
    sources = {
        p["customerNumber"]: [
            ("AllCustomers", ""),
            ("Customer", p["customerNumber"]),
            ("CustomerPriceGroup", p["customerPriceGroupCode"]),
        ]
        for p in profiles
    }
    items = [i["number"] for i in erp["items"][:4]]

    def expected_for(pairs: list[tuple[str, str]], after: tuple[str, int] | None) -> list[tuple[str, int]]:
        keys = sorted(
            (r["priceListCode"], r["lineNo"])
            for r in erp["priceListLines"]
            if (r["sourceType"], r["sourceNo"]) in pairs and r["priceListCode"] in active
        )
        return [k for k in keys if after is None or k > after][:4]

    async with read_session_factory(engine)() as session:
        with count_queries(engine) as counter:
            first = await read_lines.lines_for_customers(session, sources=sources, first=3, after=None)
            by_item = await read_lines.lines_of_items(session, numbers=items, first=2, after=None)
        assert counter.count == 2
        for number, pairs in sources.items():
            got = [(ln.price_list_code, ln.line_no) for ln in first[number]]
            assert got == expected_for(pairs, None)
            after = got[2]
            more = await read_lines.lines_for_customers(
                session, sources={number: pairs}, first=3, after=after
            )
            assert [(ln.price_list_code, ln.line_no) for ln in more[number]] == expected_for(pairs, after)
    for number in items:
        rows = sorted(
            (r["priceListCode"], r["lineNo"])
            for r in erp["priceListLines"]
            if r["assetType"] == "Item" and r["assetNo"] == number
        )
        assert [(ln.price_list_code, ln.line_no) for ln in by_item.get(number, [])] == rows[:3]
