"""`POST /api/v1/prices/quote` against a whole gateway (simulators in-process, read model seeded from
their demo data): answers cross-checked with the price engine, defaults, currency conversion, roles
and the sales scope, and every validation error as a 400 problem naming the field."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from gateway.domain import PriceRequest, Role
from gateway.services.price_engine import PricingSnapshot, quote_line
from gateway.services.pricing_index import round_to
from gateway.simulators import SimulatorOptions
from gateway.store.engine import read_session_factory
from gateway.store.read_pricing import load_pricing_data
from tests.gateway_harness import Harness, running_gateway

URL = "/api/v1/prices/quote"
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("quotes-rest") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}",
        options=SimulatorOptions(customers=20, items=20),
        seed_read_model=True,
        sales_scope="own",
    ) as harness:
        yield harness


async def _post(gw: Harness, body: Any, role: Role = Role.ADMIN, key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else gw.auth(role)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await gw.client.post(URL, content=content, headers={**headers, "Content-Type": "application/json"})


async def _ok(gw: Harness, body: Any, role: Role = Role.ADMIN) -> dict[str, Any]:
    response = await _post(gw, body, role)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _engine_quotes(
    gw: Harness, customer: str, lines: list[tuple[str, str, str]], currency: str, on: date
) -> list[Any]:
    """The same lines priced by the engine directly, over a snapshot loaded from the same store."""
    async with read_session_factory(gw.app.state.engine)() as session:
        data = await load_pricing_data(
            session, customer_numbers=[customer], item_numbers=[n for n, _, _ in lines]
        )
    snapshot = PricingSnapshot(
        local_currency_code="USD",  # the demo company's (companyInformation.currencyCode)
        currencies=data.currencies,
        exchange_rates=data.exchange_rates,
        customers=data.customers,
        items=data.items,
        item_pricing=data.item_pricing,
        item_units=data.item_units,
        lines=data.lines,
    )
    return [
        quote_line(PriceRequest(customer, item, Decimal(qty), unit, currency, on), snapshot=snapshot)
        for item, qty, unit in lines
    ]


def _same(line: dict[str, Any], quote: Any) -> None:
    assert line["itemNumber"] == quote.item_number
    assert line["unitOfMeasureCode"] == quote.unit_of_measure_code
    assert Decimal(str(line["unitPrice"])) == quote.unit_price
    assert Decimal(str(line["lineDiscountPercent"])) == quote.line_discount_percent
    assert Decimal(str(line["lineAmount"])) == quote.line_amount
    ref = quote.price_source
    assert line["priceSource"] == (ref and {"priceListCode": ref.price_list_code, "lineNo": ref.line_no})
    ref = quote.discount_source
    assert line["discountSource"] == (ref and {"priceListCode": ref.price_list_code, "lineNo": ref.line_no})


async def test_a_known_answer_and_the_basket_total(gw: Harness) -> None:
    body = {
        "customerNumber": "C10000",
        "date": "2026-11-25",
        "lines": [
            {"itemNumber": "1004-S", "quantity": 12},
            {"itemNumber": "1028-A", "quantity": 3},
            {"itemNumber": "1060-A", "quantity": 30, "unitOfMeasureCode": "PCS"},
        ],
    }
    answer = await _ok(gw, body)
    assert answer["customerNumber"] == "C10000"
    assert answer["currencyCode"] == "USD" and answer["date"] == "2026-11-25"
    first = answer["lines"][0]
    # Worked by hand from the demo rows: C10000's own list S10001 line 20000 at 240.03, the 5%
    # discount of S00006 line 20000: 12 * 240.03 * 0.95 = 2736.342 -> 2736.34.
    assert first["unitPrice"] == 240.03 and first["lineDiscountPercent"] == 5
    assert first["lineAmount"] == 2736.34
    assert first["priceSource"] == {"priceListCode": "S10001", "lineNo": 20000}
    assert first["discountSource"] == {"priceListCode": "S00006", "lineNo": 20000}
    assert first["priceIncludesTax"] is False and first["notes"]
    engine = await _engine_quotes(
        gw,
        "C10000",
        [("1004-S", "12", ""), ("1028-A", "3", ""), ("1060-A", "30", "PCS")],
        "USD",
        date(2026, 11, 25),
    )
    for line, quote in zip(answer["lines"], engine, strict=True):
        _same(line, quote)
    total = sum((Decimal(str(line["lineAmount"])) for line in answer["lines"]), Decimal(0))
    assert Decimal(str(answer["totalAmount"])) == total


@pytest.mark.parametrize("customer", ["C10040", "C10050", "C10110", "C10080"])
async def test_answers_match_the_engine_for_other_customers(gw: Harness, customer: str) -> None:
    lines = [("1004-S", "10", ""), ("1044-S", "25", ""), ("1068-A", "1", ""), ("1032-M", "2", "PCS")]
    body = {
        "customerNumber": customer,
        "date": "2026-06-15",
        "lines": [
            {"itemNumber": n, "quantity": int(q), **({"unitOfMeasureCode": u} if u else {})}
            for n, q, u in lines
        ],
    }
    answer = await _ok(gw, body)
    engine = await _engine_quotes(gw, customer, lines, answer["currencyCode"], date(2026, 6, 15))
    for line, quote in zip(answer["lines"], engine, strict=True):
        _same(line, quote)


async def test_defaults_currency_date_and_unit(gw: Harness) -> None:
    answer = await _ok(gw, {"customerNumber": "C10070", "lines": [{"itemNumber": "1028-A", "quantity": 1}]})
    assert answer["currencyCode"] == "EUR"  # the customer's
    assert answer["date"] == datetime.now(UTC).date().isoformat()
    assert answer["lines"][0]["unitOfMeasureCode"] == "BOX"  # the item's sales unit (base unit PCS)
    answer = await _ok(gw, {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": 1}]})
    assert answer["currencyCode"] == "USD"  # a local-currency customer: the company's currency
    assert answer["lines"][0]["unitOfMeasureCode"] == "PCS"


async def test_a_local_price_is_converted_for_a_eur_customer(gw: Harness) -> None:
    line = {"itemNumber": "1004-S", "quantity": 12}
    eur = await _ok(gw, {"customerNumber": "C10070", "date": "2026-11-25", "lines": [line]})
    usd = await _ok(
        gw, {"customerNumber": "C10070", "currencyCode": "usd", "date": "2026-11-25", "lines": [line]}
    )
    assert eur["currencyCode"] == "EUR" and usd["currencyCode"] == "USD"
    e, u = eur["lines"][0], usd["lines"][0]
    assert e["priceSource"] == u["priceSource"]  # a blank-currency line wins in both
    # EUR from 2026-10-01: 1 EUR = 1.0731 USD; unit prices round to 0.00001.
    expected = round_to(Decimal(str(u["unitPrice"])) / Decimal("1.0731"), Decimal("0.00001"))
    assert Decimal(str(e["unitPrice"])) == expected
    # the rate depends on the date: from 2026-04-01 it was 1.0856
    earlier = await _ok(gw, {"customerNumber": "C10070", "date": "2026-05-01", "lines": [line]})
    assert earlier["lines"][0]["unitPrice"] != e["unitPrice"]


async def test_roles_and_the_sales_scope(gw: Harness) -> None:
    body = {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": 1}]}
    assert (await _post(gw, body, Role.ADMIN)).status_code == 200
    response = await _post(gw, body, Role.APP)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await gw.client.post(URL, json=body)).status_code == 401
    # scope "own": the demo sales key has no salesperson, so no customer is its own
    assert (await _post(gw, body, Role.SALES)).status_code == 404
    kw = await gw.app.state.services.access.issue(role="sales", salesperson_code="KW", name="kw")
    assert (await _post(gw, body, key=kw.plaintext)).status_code == 200  # C10000 is KW's
    other = {**body, "customerNumber": "C10110"}  # RH's
    response = await _post(gw, other, key=kw.plaintext)
    assert response.status_code == 404
    assert response.json()["detail"] == (await _post(gw, {**body, "customerNumber": "NOPE"})).json()[
        "detail"
    ].replace("NOPE", "C10110")


LINE = {"itemNumber": "1004-S", "quantity": 1}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"customerNumber": "C10000", "lines": [', "body"),
        (b"", "body"),
        ([LINE], "body"),
        ({"lines": [LINE]}, "customerNumber"),
        ({"customerNumber": "C10000"}, "lines"),
        ({"customerNumber": 10000, "lines": [LINE]}, "customerNumber"),
        ({"customerNumber": "", "lines": [LINE]}, "customerNumber"),
        ({"customerNumber": "C10000", "lines": {"a": 1}}, "lines"),
        ({"customerNumber": "C10000", "lines": []}, "lines"),
        ({"customerNumber": "C10000", "lines": [LINE] * 201}, "lines"),
        ({"customerNumber": "C10000", "lines": [{"quantity": 1}]}, "lines[0].itemNumber"),
        ({"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S"}]}, "lines[0].quantity"),
        (
            {"customerNumber": "C10000", "lines": [LINE, {"itemNumber": "1004-S", "quantity": 0}]},
            "lines[1].quantity",
        ),
        (
            {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": -2}]},
            "lines[0].quantity",
        ),
        (
            {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": "12"}]},
            "lines[0].quantity",
        ),
        (
            {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": True}]},
            "lines[0].quantity",
        ),
        (
            {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": 1.123456}]},
            "lines[0].quantity",
        ),
        (
            {"customerNumber": "C10000", "lines": [{"itemNumber": "1004-S", "quantity": 1e12}]},
            "lines[0].quantity",
        ),
        ({"customerNumber": "C10000", "lines": [{**LINE, "price": 1}]}, "lines[0].price"),
        ({"customerNumber": "C10000", "lines": [LINE], "discount": 5}, "discount"),
        (
            {"customerNumber": "C10000", "lines": [{**LINE, "unitOfMeasureCode": 7}]},
            "lines[0].unitOfMeasureCode",
        ),
        ({"customerNumber": "C10000", "date": "25.11.2026", "lines": [LINE]}, "date"),
        ({"customerNumber": "C10000", "date": 20261125, "lines": [LINE]}, "date"),
        ({"customerNumber": "C10000", "currencyCode": 5, "lines": [LINE]}, "currencyCode"),
        ({"customerNumber": "C10000", "currencyCode": "XYZ", "lines": [LINE]}, "currencyCode"),
        # EUR has no exchange rate before 2025-01-01 in the demo data
        ({"customerNumber": "C10070", "date": "2024-06-01", "lines": [LINE]}, "currencyCode"),
        (
            {"customerNumber": "C10000", "lines": [{**LINE, "unitOfMeasureCode": "PALLET"}]},
            "lines[0].unitOfMeasureCode",
        ),
        ({"customerNumber": "C10030", "lines": [LINE]}, "customerNumber"),  # blocked: All
        (
            {"customerNumber": "C10000", "lines": [LINE, {"itemNumber": "1012-T", "quantity": 1}]},
            "lines[1].itemNumber",
        ),
    ],
)
async def test_every_validation_error_is_a_400_naming_the_field(gw: Harness, body: Any, field: str) -> None:
    response = await _post(gw, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400 and problem["field"] == field, problem


@pytest.mark.parametrize(
    "body",
    [
        {"customerNumber": "C99999", "lines": [LINE]},
        {"customerNumber": "C10000", "lines": [LINE, {"itemNumber": "NOPE-1", "quantity": 1}]},
    ],
)
async def test_unknown_customer_or_item_is_a_404(gw: Harness, body: Any) -> None:
    response = await _post(gw, body)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_body_too_large_is_a_413_and_get_is_a_405(gw: Harness) -> None:
    big = json.dumps({"customerNumber": "C10000", "lines": [LINE], "pad": "x" * 300_000}).encode()
    assert (await _post(gw, big)).status_code == 413
    response = await gw.client.get(URL, headers=gw.auth(Role.ADMIN))
    assert response.status_code == 405
