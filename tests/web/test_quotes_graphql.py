"""`price` and `prices` over GraphQL against a whole gateway (read model seeded from the demo data):
the same answers as the REST quote, failures as `PriceError` data naming the argument, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from gateway.domain import Role
from gateway.simulators import SimulatorOptions
from tests.gateway_harness import Harness, running_gateway

PRICE = """query($c: String!, $i: String!, $q: Decimal!, $u: String, $cur: String, $d: Date) {
  price(customer: $c, item: $i, quantity: $q, unit: $u, currency: $cur, date: $d) {
    __typename
    ... on PriceQuote { customerNumber currencyCode date itemNumber quantity unitOfMeasureCode unitPrice
      lineDiscountPercent lineAmount priceSource { priceListCode lineNo }
      discountSource { priceListCode lineNo } priceIncludesTax notes }
    ... on PriceError { code message field }
  }
}"""
PRICES = """query($input: PricesInput!) {
  prices(input: $input) {
    __typename
    ... on Quote { customerNumber currencyCode date totalAmount lines { itemNumber quantity unitOfMeasureCode
      unitPrice lineDiscountPercent lineAmount priceSource { priceListCode lineNo }
      discountSource { priceListCode lineNo } priceIncludesTax notes } }
    ... on PriceError { code message field }
  }
}"""
NUMBERS = ("quantity", "unitPrice", "lineDiscountPercent", "lineAmount")

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    path = tmp_path_factory.mktemp("quotes-graphql") / "gw.db"
    async with running_gateway(
        f"sqlite+aiosqlite:///{path}",
        options=SimulatorOptions(customers=20, items=20),
        seed_read_model=True,
        sales_scope="own",
    ) as harness:
        yield harness


async def _query(
    gw: Harness, query: str, role: Role = Role.ADMIN, key: str | None = None, **variables: Any
) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else gw.auth(role)
    response = await gw.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


async def _rest(gw: Harness, body: dict[str, Any]) -> dict[str, Any]:
    response = await gw.client.post("/api/v1/prices/quote", json=body, headers=gw.auth(Role.ADMIN))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _numbers(line: dict[str, Any]) -> dict[str, Any]:
    """GraphQL Decimals are strings, REST numbers are JSON numbers: compare them as Decimals."""
    return {k: Decimal(str(v)) if k in NUMBERS else v for k, v in line.items()}


async def test_price_is_the_rest_answer_for_one_line(gw: Harness) -> None:
    data = await _query(gw, PRICE, c="C10070", i="1028-A", q="2.5", u="PCS", d="2026-11-25")
    got = data["price"]
    assert got["__typename"] == "PriceQuote"
    rest = await _rest(
        gw,
        {
            "customerNumber": "C10070",
            "date": "2026-11-25",
            "lines": [{"itemNumber": "1028-A", "quantity": 2.5, "unitOfMeasureCode": "PCS"}],
        },
    )
    assert (got["customerNumber"], got["currencyCode"], got["date"]) == ("C10070", "EUR", "2026-11-25")
    line = {k: v for k, v in got.items() if k not in ("__typename", "customerNumber", "currencyCode", "date")}
    assert _numbers(line) == _numbers(rest["lines"][0])


async def test_prices_is_the_rest_quote_for_a_basket(gw: Harness) -> None:
    lines = [("1004-S", 12, None), ("1028-A", 3, None), ("1060-A", 30, "PCS"), ("1044-S", 1, None)]
    data = await _query(
        gw,
        PRICES,
        input={
            "customer": "C10110",
            "currency": "EUR",
            "date": "2026-06-15",
            "lines": [{"item": n, "quantity": q, "unit": u} for n, q, u in lines],
        },
    )
    got = data["prices"]
    assert got["__typename"] == "Quote"
    rest = await _rest(
        gw,
        {
            "customerNumber": "C10110",
            "currencyCode": "EUR",
            "date": "2026-06-15",
            "lines": [{"itemNumber": n, "quantity": q, "unitOfMeasureCode": u} for n, q, u in lines],
        },
    )
    assert got["currencyCode"] == rest["currencyCode"] == "EUR" and got["date"] == rest["date"]
    assert Decimal(got["totalAmount"]) == Decimal(str(rest["totalAmount"]))
    assert [_numbers(x) for x in got["lines"]] == [_numbers(x) for x in rest["lines"]]
    assert Decimal(got["totalAmount"]) == sum((Decimal(x["lineAmount"]) for x in got["lines"]), Decimal(0))


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"c": "C10000", "i": "1004-S", "q": "0"}, "INVALID_INPUT", "quantity"),
        ({"c": "C10000", "i": "1004-S", "q": "1.123456"}, "INVALID_INPUT", "quantity"),
        ({"c": "C10000", "i": "1004-S", "q": "NaN"}, "INVALID_INPUT", "quantity"),
        ({"c": "C10000", "i": "1004-S", "q": "1", "u": "PALLET"}, "INVALID_INPUT", "unit"),
        ({"c": "C10000", "i": "1004-S", "q": "1", "cur": "XYZ"}, "INVALID_INPUT", "currency"),
        ({"c": "C10030", "i": "1004-S", "q": "1"}, "INVALID_INPUT", "customer"),
        ({"c": "C10000", "i": "1012-T", "q": "1"}, "INVALID_INPUT", "item"),
        ({"c": "C99999", "i": "1004-S", "q": "1"}, "NOT_FOUND", None),
        ({"c": "C10000", "i": "NOPE", "q": "1"}, "NOT_FOUND", None),
    ],
)
async def test_price_failures_are_data(
    gw: Harness, variables: dict[str, Any], code: str, field: str | None
) -> None:
    got = (await _query(gw, PRICE, **variables))["price"]
    assert got["__typename"] == "PriceError"
    assert (got["code"], got["field"]) == (code, field), got
    # `price` has no lines argument: its messages never name one ("lines[0]: item 'NOPE' not found").
    assert got["message"] and "lines" not in got["message"], got["message"]


async def test_prices_failures_name_the_line(gw: Harness) -> None:
    lines = [{"item": "1004-S", "quantity": 1}, {"item": "1004-S", "quantity": 1, "unit": "PALLET"}]
    got = (await _query(gw, PRICES, input={"customer": "C10000", "lines": lines}))["prices"]
    assert (got["__typename"], got["code"], got["field"]) == ("PriceError", "INVALID_INPUT", "lines[1].unit")
    assert "unitOfMeasureCode" not in got["message"], got["message"]  # the argument's GraphQL name
    got = (await _query(gw, PRICES, input={"customer": "C10000", "lines": []}))["prices"]
    assert (got["code"], got["field"]) == ("INVALID_INPUT", "lines")
    got = (await _query(gw, PRICES, input={"customer": "C10000", "lines": [lines[0]] * 201}))["prices"]
    assert (got["code"], got["field"]) == ("INVALID_INPUT", "lines")


async def test_roles_and_the_sales_scope(gw: Harness) -> None:
    variables: dict[str, Any] = {"c": "C10000", "i": "1004-S", "q": "1"}
    assert (await _query(gw, PRICE, Role.ADMIN, **variables))["price"]["__typename"] == "PriceQuote"
    got = (await _query(gw, PRICE, Role.APP, **variables))["price"]
    assert (got["__typename"], got["code"]) == ("PriceError", "FORBIDDEN")
    got = (await _query(gw, PRICE, Role.SALES, **variables))["price"]  # no salesperson: nobody is its own
    assert (got["__typename"], got["code"]) == ("PriceError", "NOT_FOUND")
    kw = await gw.app.state.services.access.issue(role="sales", salesperson_code="KW", name="kw")
    assert (await _query(gw, PRICE, key=kw.plaintext, **variables))["price"]["__typename"] == "PriceQuote"
    got = (await _query(gw, PRICE, key=kw.plaintext, **{**variables, "c": "C10110"}))["price"]
    assert got["code"] == "NOT_FOUND"  # RH's customer: as if it did not exist
    got = await _query(
        gw,
        PRICES,
        key=kw.plaintext,
        input={"customer": "C10000", "lines": [{"item": "1004-S", "quantity": 1}]},
    )
    assert got["prices"]["__typename"] == "Quote"
