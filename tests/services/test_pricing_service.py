"""The quote use case over a seeded read model and the simulators: the local currency (from the store,
never an upstream), defaults, who may quote, which customers can be quoted, and input checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain import Principal, Role
from gateway.errors import InvalidInput, NotFound, NotSynchronized, PermissionDenied
from gateway.services.catalog import CatalogService
from gateway.services.pricing import PricingService
from gateway.simulators import SimulatorOptions
from gateway.store.engine import create_engine, read_session_factory
from gateway.store.migrate import upgrade_engine
from tests.read_model_seed import seed_read_model

ADMIN = Principal(key_id="a", role=Role.ADMIN)
OPTIONS = SimulatorOptions(customers=20, items=20)
DAY = date(2026, 6, 15)


@dataclass
class World:
    pricing: PricingService
    engine: AsyncEngine


@asynccontextmanager
async def _world(path: Path) -> AsyncIterator[World]:
    """The pricing service over a seeded store. It is given no upstream connector: it needs none
    (the app-level check that a quote makes no upstream request is tests/web/test_quote_local_currency)."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_engine(engine)
    await seed_read_model(engine, seed=OPTIONS.seed, customers=OPTIONS.customers, items=OPTIONS.items)
    sessions = read_session_factory(engine)
    pricing = PricingService(
        sessions=sessions, catalog=CatalogService(sessions=sessions, sales_scope="own"), today=lambda: DAY
    )
    try:
        yield World(pricing, engine)
    finally:
        await engine.dispose()


# One world for the module (seeding dominates); the test that empties a table makes its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with _world(tmp_path_factory.mktemp("pricing") / "pricing.db") as built:
        yield built


async def test_the_local_currency_comes_from_the_store(world: World) -> None:
    quote = await world.pricing.quote(ADMIN, customer_number="C10070", lines=[("1028-A", Decimal(2), None)])
    assert quote.currency_code == "EUR"  # the customer's currency, priced through the local one
    local = await world.pricing.quote(
        ADMIN, customer_number="C10070", currency_code="usd", lines=[("1028-A", Decimal(2), None)]
    )
    assert local.currency_code == "USD"  # the seeded companyInformation's currencyCode


async def test_a_store_without_the_local_currency_cannot_quote_yet(tmp_path: Path) -> None:
    async with _world(tmp_path / "older.db") as older:
        async with older.engine.begin() as conn:
            await conn.execute(text("DELETE FROM rm_company"))  # a store the sync has not given it yet
        with pytest.raises(NotSynchronized, match="local currency"):
            await older.pricing.quote(ADMIN, customer_number="C10070", lines=[("1028-A", Decimal(2), None)])


async def test_defaults_date_currency_and_unit(world: World) -> None:
    quote = await world.pricing.quote(ADMIN, customer_number="C10070", lines=[("1028-A", Decimal(2), None)])
    assert (quote.customer_number, quote.currency_code, quote.date) == ("C10070", "EUR", DAY)
    (line,) = quote.lines
    assert line.unit_of_measure_code == "BOX" and line.currency_code == "EUR"
    assert quote.total_amount == line.line_amount


async def test_the_total_is_the_rounded_sum_of_the_lines(world: World) -> None:
    lines = [
        ("1004-S", Decimal("1.5"), None),
        ("1044-S", Decimal("0.33333"), None),
        ("1060-A", Decimal(7), "PCS"),
    ]
    quote = await world.pricing.quote(ADMIN, customer_number="C10110", currency_code="GBP", lines=lines)
    assert quote.currency_code == "GBP" and len(quote.lines) == 3
    assert quote.total_amount == sum((ln.line_amount for ln in quote.lines), Decimal(0))
    assert all(ln.line_amount == ln.line_amount.quantize(Decimal("0.01")) for ln in quote.lines)


async def test_who_may_quote_which_customer(world: World) -> None:
    lines = [("1004-S", Decimal(1), None)]
    with pytest.raises(PermissionDenied):
        await world.pricing.quote(Principal(key_id="p", role=Role.APP), customer_number="C10000", lines=lines)
    kw = Principal(key_id="k", role=Role.SALES, salesperson_code="KW")
    assert (await world.pricing.quote(kw, customer_number="C10000", lines=lines)).lines
    with pytest.raises(NotFound):
        await world.pricing.quote(kw, customer_number="C10110", lines=lines)  # RH's customer
    # Blocked "Invoice" (C10000) and "Ship" (C10090) still allow quotes, as in BC; "All" does not.
    assert (await world.pricing.quote(ADMIN, customer_number="C10090", lines=lines)).lines
    with pytest.raises(InvalidInput) as blocked:
        await world.pricing.quote(ADMIN, customer_number="C10030", lines=lines)
    assert blocked.value.field == "customerNumber"
    with pytest.raises(InvalidInput) as crm_only:  # an account only Sales has: no BC pricing profile
        await world.pricing.quote(ADMIN, customer_number="C10005", lines=lines)
    assert crm_only.value.field == "customerNumber"


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([("1004-S", Decimal(1), None)] * 201, "lines"),
        ([("", Decimal(1), None)], "lines[0].itemNumber"),
        ([("1004-S", Decimal("NaN"), None)], "lines[0].quantity"),
        ([("1004-S", Decimal("Infinity"), None)], "lines[0].quantity"),
        ([("1004-S", Decimal("0.000001"), None)], "lines[0].quantity"),
        ([("1004-S", Decimal(1), None), ("1004-S", Decimal(-1), None)], "lines[1].quantity"),
        ([("1004-S", Decimal(1), "HOUR")], "lines[0].unitOfMeasureCode"),
    ],
)
async def test_bad_lines_are_invalid_input_naming_the_field(
    world: World, lines: list[tuple[str, Decimal, str | None]], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await world.pricing.quote(ADMIN, customer_number="C10000", lines=lines)
    assert caught.value.field == field
