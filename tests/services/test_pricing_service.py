"""The quote use case over a seeded read model and the simulators: the local currency (from the ERP,
else Sales, then kept), defaults, who may quote, which customers can be quoted, and input checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from gateway.domain import Principal, Role
from gateway.errors import InvalidInput, NotFound, PermissionDenied, UpstreamUnavailable
from gateway.services.catalog import CatalogService
from gateway.services.pricing import LocalCurrency, PricingService
from gateway.services.status import StatusService
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store.engine import create_engine, read_session_factory
from gateway.store.migrate import upgrade_engine
from gateway.upstream.factory import build_crm_connector, build_erp_connector
from gateway.upstream.transport import in_process_transport
from tests.gateway_harness import harness_settings
from tests.read_model_seed import seed_read_model

ADMIN = Principal(key_id="a", role=Role.ADMIN)
OPTIONS = SimulatorOptions(customers=20, items=20)
DAY = date(2026, 6, 15)


@dataclass
class World:
    pricing: PricingService
    status: StatusService
    erp_sim: object
    crm_sim: object


async def _fault(sim: object) -> None:
    transport = httpx.ASGITransport(app=sim)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        await client.post("/_sim/faults", json={"rate": 1.0, "seed": 1, "kinds": ["503"]})


async def _company_calls(sim: object) -> int:
    transport = httpx.ASGITransport(app=sim)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        stats = (await client.get("/_sim/stats")).json()
    return int(stats["byEntitySet"].get("companyInformation", 0))


@asynccontextmanager
async def _world(path: Path) -> AsyncIterator[World]:
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    await upgrade_engine(engine)
    await seed_read_model(engine, seed=OPTIONS.seed, customers=OPTIONS.customers, items=OPTIONS.items)
    settings = harness_settings(url, OPTIONS, upstream_max_retries=0)
    erp_sim, crm_sim = create_erp_simulator(OPTIONS), create_crm_simulator(OPTIONS)
    async with AsyncExitStack() as stack:
        erp = build_erp_connector(settings, transport=in_process_transport(erp_sim))
        stack.push_async_callback(erp.aclose)
        crm = build_crm_connector(settings, transport=in_process_transport(crm_sim))
        stack.push_async_callback(crm.aclose)
        status = StatusService(erp=erp, crm=crm, ttl_seconds=0)  # every check asks: counts stay honest
        sessions = read_session_factory(engine)
        pricing = PricingService(
            sessions=sessions,
            catalog=CatalogService(sessions=sessions, sales_scope="own"),
            local_currency=LocalCurrency(status=status),
            today=lambda: DAY,
        )
        yield World(pricing, status, erp_sim, crm_sim)
    await engine.dispose()


# One world for the module (seeding dominates); the test that breaks the upstreams makes its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with _world(tmp_path_factory.mktemp("pricing") / "pricing.db") as built:
        yield built


async def test_the_local_currency_comes_from_the_erp_once(world: World) -> None:
    local = LocalCurrency(status=world.status)
    assert await local() == "USD"
    calls = await _company_calls(world.erp_sim)
    assert calls >= 1
    assert await local() == "USD"
    assert await _company_calls(world.erp_sim) == calls  # kept: no second ask


async def test_the_local_currency_falls_back_to_the_sales_base_currency(tmp_path: Path) -> None:
    async with _world(tmp_path / "down.db") as broken:
        await _fault(broken.erp_sim)
        assert await LocalCurrency(status=broken.status)() == "USD"
        await _fault(broken.crm_sim)
        with pytest.raises(UpstreamUnavailable):
            await LocalCurrency(status=broken.status)()


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
