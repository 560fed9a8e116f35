"""Quotes keep the currencies and exchange rates they read while the store's version of them is
unchanged, and read them again once the sync has written them: a rate changed in Business Central
and mirrored by the sync's ERP PRICING run prices the very next quote. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.domain import Role
from gateway.services.pricing_index import round_to
from gateway.simulators import SimulatorOptions
from gateway.store.engine import count_queries
from gateway.sync.pricing_mirror import ERP_PRICING
from tests.gateway_harness import Harness, running_gateway
from tests.store.conftest import backend, database_url, databases  # noqa: F401  (fixtures)

URL = "/api/v1/prices/quote"
LINE = {"itemNumber": "1004-S", "quantity": 12}


async def _quote(gw: Harness, currency: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"customerNumber": "C10070", "date": "2026-11-25", "lines": [LINE]}
    if currency:
        body["currencyCode"] = currency
    response = await gw.client.post(URL, json=body, headers=gw.auth(Role.ADMIN))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _eur_rate_from(gw: Harness, starting: str) -> Any:
    assert gw.app.state.services.sync is not None
    erp = gw.app.state.services.sync.engine.erp
    async for page in erp.pages("currencyExchangeRates", api="integration"):
        for record in page:
            if record.values["currencyCode"] == "EUR" and record.values["startingDate"] == starting:
                return record
    raise AssertionError(f"no EUR rate from {starting} in the demo data")


async def test_a_rate_changed_by_the_sync_prices_the_next_quote(database_url: str) -> None:  # noqa: F811
    options = SimulatorOptions(customers=20, items=20)
    async with running_gateway(database_url, options=options, seed_read_model=True) as gw:
        kept = gw.app.state.services.pricing.currency_tables
        usd = Decimal(str((await _quote(gw, "USD"))["lines"][0]["unitPrice"]))
        first = await _quote(gw)
        # EUR from 2026-10-01: 1 EUR = 1.0731 USD
        assert Decimal(str(first["lines"][0]["unitPrice"])) == round_to(
            usd / Decimal("1.0731"), Decimal("0.00001")
        )

        reads = kept.reads
        with count_queries(gw.app.state.engine) as counter:
            again = await _quote(gw)
        assert again == first
        assert kept.reads == reads, "the currency tables were read again though nothing changed"
        # customer, version, customer pricing, items, item units, candidate lines
        assert counter.count == 6, counter.count

        rate = await _eur_rate_from(gw, "2026-10-01")
        erp = gw.app.state.services.sync.engine.erp  # type: ignore[union-attr]
        await erp.update(
            "currencyExchangeRates",
            rate.id,
            {"relationalExchangeRateAmount": 1.25},
            etag="*",
            api="integration",
        )
        summary = await gw.app.state.services.sync.engine.run(  # type: ignore[union-attr]
            mapping=ERP_PRICING, direction="erp_to_crm"
        )
        assert summary.status == "success", summary

        changed = await _quote(gw)
        assert kept.reads == reads + 1
        assert Decimal(str(changed["lines"][0]["unitPrice"])) == round_to(
            usd / Decimal("1.25"), Decimal("0.00001")
        )
        assert changed["lines"][0]["unitPrice"] != first["lines"][0]["unitPrice"]
        await _quote(gw)
        assert kept.reads == reads + 1  # kept again from then on
