"""The order writes without a server: ids per idempotency key, the change set's shape, amounts that
carry a quote into Sales exactly, the replay comparison, and the answer built from Sales' rows."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from gateway.domain import SalesOrderState
from gateway.services.order_writes import (
    OrderContext,
    PlannedLine,
    PlannedOrder,
    detail_id,
    order_id,
    order_number,
    order_writes,
    plan_line_amounts,
    sales_order,
    same_order,
)
from gateway.services.pricing_index import round_to
from gateway.upstream.writes import WriteKind

ACCOUNT, PRODUCT, UOM = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def _plan(**changes: object) -> PlannedOrder:
    line = PlannedLine(
        sequence=1,
        item_number="1896-S",
        unit_code="BOX",
        product_id=PRODUCT,
        uom_id=UOM,
        quantity=Decimal(12),
        unit_price=Decimal("10.01"),
        discount_amount=Decimal("0.04"),
        line_discount_percent=Decimal(0),
    )
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "number": "GW-1",
        "name": "order",
        "account_id": ACCOUNT,
        "currency_id": str(uuid.uuid4()),
        "price_level_id": None,
        "owner_id": None,
        "requested_delivery_date": date(2026, 12, 1),
        "lines": (line,),
    }
    values.update(changes)
    return PlannedOrder(**values)  # type: ignore[arg-type]


def test_order_ids_are_stable_per_key_and_caller_and_random_without_a_key() -> None:
    first = order_id(key_id="1", idempotency_key="abc")
    assert first == order_id(key_id="1", idempotency_key="abc")
    assert first != order_id(key_id="2", idempotency_key="abc")
    assert first != order_id(key_id="1", idempotency_key="abd")
    assert order_id(key_id="1", idempotency_key=None) != order_id(key_id="1", idempotency_key=None)
    assert detail_id(first, 1) == detail_id(first, 1) != detail_id(first, 2)
    assert len(order_number(first)) <= 35  # BC's external document number


def test_the_change_set_creates_the_order_and_its_lines_then_submits_it() -> None:
    plan = _plan(price_level_id=str(uuid.uuid4()), owner_id=str(uuid.uuid4()))
    writes = order_writes(plan)
    assert [(w.kind, w.entity_set) for w in writes] == [
        (WriteKind.CREATE, "salesorders"),
        (WriteKind.CREATE, "salesorderdetails"),
        (WriteKind.UPDATE, "salesorders"),
    ]
    order, detail, submit = (dict(w.values or {}) for w in writes)
    assert order["salesorderid"] == str(plan.id)
    assert order["customerid_account@odata.bind"] == f"/accounts({ACCOUNT})"
    assert order["pricelevelid@odata.bind"] == f"/pricelevels({plan.price_level_id})"
    assert order["ownerid@odata.bind"] == f"/systemusers({plan.owner_id})"
    assert order["requestdeliveryby"] == "2026-12-01"
    assert detail["salesorderid@odata.bind"] == f"/salesorders({plan.id})"
    assert (detail["productid@odata.bind"], detail["uomid@odata.bind"]) == (
        f"/products({PRODUCT})",
        f"/uoms({UOM})",
    )
    assert (detail["priceperunit"], detail["manualdiscountamount"], detail["ispriceoverridden"]) == (
        10.01,
        0.04,
        True,
    )
    assert (submit["statecode"], submit["statuscode"]) == (1, 3)
    assert writes[2].etag == "*"  # never creates: the order must exist within the change set
    no_extras = order_writes(_plan(requested_delivery_date=None))[0].values or {}
    assert not {"pricelevelid@odata.bind", "ownerid@odata.bind", "requestdeliveryby"} & set(no_extras)


@pytest.mark.parametrize(
    ("quantity", "price", "percent"),
    [
        ("12", "14907.01705", "0"),
        ("3", "19.99", "0"),
        ("7", "1.00001", "10"),
        ("0.5", "3.33333", "2.5"),
        ("1000", "0.01999", "33"),
        ("1", "1.005", "0"),
    ],
)
def test_amounts_carry_the_quoted_line_amount_exactly(quantity: str, price: str, percent: str) -> None:
    q, p, d, cent = Decimal(quantity), Decimal(price), Decimal(percent), Decimal("0.01")
    quoted = round_to(q * p * (1 - d / 100), cent)
    unit_price, discount = plan_line_amounts(
        quantity=q, quoted_unit_price=p, quoted_line_amount=quoted, precision=cent
    )
    assert p <= unit_price < p + cent and unit_price == round_to(unit_price, cent)
    assert discount >= 0
    assert round_to(q * unit_price, cent) - discount == quoted


def test_a_replay_matches_on_account_and_lines_not_on_prices() -> None:
    order = {"_customerid_value": ACCOUNT.upper()}
    details = [{"sequencenumber": 1, "_productid_value": PRODUCT, "_uomid_value": UOM, "quantity": 12.0}]
    asked = [(1, PRODUCT, UOM, Decimal("12"))]
    assert same_order(order, details, account_id=ACCOUNT, lines=asked)
    assert not same_order(order, details, account_id=str(uuid.uuid4()), lines=asked)
    assert not same_order(order, details, account_id=ACCOUNT, lines=[(1, PRODUCT, UOM, Decimal(13))])
    assert not same_order(order, details, account_id=ACCOUNT, lines=[*asked, (2, PRODUCT, UOM, Decimal(1))])


def test_the_answer_is_built_from_what_sales_holds() -> None:
    order = {
        "salesorderid": "o1",
        "ordernumber": "GW-1",
        "name": "n",
        "statecode": 1,
        "statuscode": 3,
        "_customerid_value": ACCOUNT,
        "requestdeliveryby": "2026-12-01",
    }
    details = [
        {
            "salesorderdetailid": "d2",
            "sequencenumber": 2,
            "_productid_value": PRODUCT,
            "_uomid_value": UOM,
            "quantity": 2,
            "priceperunit": 5.5,
            "manualdiscountamount": 1.1,
        },
        {
            "salesorderdetailid": "d1",
            "sequencenumber": 1,
            "_productid_value": PRODUCT,
            "_uomid_value": UOM,
            "quantity": 12,
            "priceperunit": 14907.02,
            "manualdiscountamount": 0.04,
            "volumediscountamount": 0,
        },
    ]
    context = OrderContext("C1", "USD", None, {PRODUCT: "1896-S"}, {UOM: "BOX"}, "k")
    answer = sales_order(order, details, context=context, created=False, precision=Decimal("0.01"))
    assert answer.state is SalesOrderState.SUBMITTED and answer.requested_delivery_date == date(2026, 12, 1)
    assert [line.crm_id for line in answer.lines] == ["d1", "d2"]
    assert [line.line_amount for line in answer.lines] == [Decimal("178884.20"), Decimal("9.90")]
    assert answer.lines[1].line_discount_percent == Decimal(10)
    assert answer.total_amount == Decimal("178894.10")
    assert answer.total_discount_amount == Decimal("1.14")
    assert answer.lines[0].item_number == "1896-S" and answer.lines[0].unit_of_measure_code == "BOX"
