"""Open ERP sales orders of the demo company (`salesOrders`, `salesOrderLines`); their outstanding
quantities are what `_stock.qtyOnSalesOrders` adds up, per item and location, in base units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from gateway.simulators.demo.catalog import Catalog
from gateway.simulators.demo.common import (
    BLANK_DATE,
    LOCAL_CURRENCY,
    NIL_GUID,
    REFERENCE_DATE,
    Row,
    Stream,
    day,
    money,
    quota,
)
from gateway.simulators.demo.reference import EXCHANGE_RATES, Reference

SALES_TAX = 0.07
STATUS_SHARES = {"Released": 0.3, "In Review": 0.05}


@dataclass(slots=True)
class Orders:
    orders: list[Row] = field(default_factory=list)
    lines: list[Row] = field(default_factory=list)


def rate_on(currency: str, on: str) -> float:
    """Local-currency value of one unit of `currency` on the ISO date `on` (BC: latest start ≤ date)."""
    if currency == LOCAL_CURRENCY:
        return 1.0
    rates = [
        (start, rel / amount)
        for code, start, amount, rel in EXCHANGE_RATES
        if code == currency and start <= on
    ]
    return max(rates)[1]


def build_orders(*, seed: int, count: int, customers: list[Row], catalog: Catalog, ref: Reference) -> Orders:
    """`count` open orders of unblocked customers, 1-5 lines each, dated in the weeks before the
    demo's reference date; fills in `qtyOnSalesOrders` of the stock rows the lines ship from."""
    s = Stream(seed, "orders")
    rng = s.rng
    r = rng.random
    buyers = [c for c in customers if c["blocked"] == " "]
    stock_at = {(row["itemNumber"], row["locationCode"]): row for row in catalog.stock}
    item_by_number = {item["number"]: item for item in catalog.items}
    # Orders sell stocked items from a location, and now and then a service (no location).
    sellable = [key for key in stock_at if not item_by_number[key[0]]["blocked"]]
    services = [i for i in catalog.items if i["type"] == "Service" and not i["blocked"]]
    statuses = quota(rng, count, STATUS_SHARES, "Open")
    stamps = iter(s.stamps(count * 7, REFERENCE_DATE - timedelta(days=60), REFERENCE_DATE))
    result = Orders()
    for k in range(count):
        customer = buyers[int(r() * len(buyers))]
        order_day = -int(r() * 45)
        order_date = day(order_day)
        currency = customer["currencyCode"]
        rate = rate_on(currency, order_date)
        delivery = day(order_day + 3 + int(r() * 28)) if r() < 0.8 else BLANK_DATE
        order_id = s.guid()
        status = statuses[k]
        lines: list[Row] = []
        picks = {sellable[int(r() * len(sellable))] for _ in range(1 + int(r() * 5))}
        for number, location in sorted(picks):
            item = item_by_number[number]
            units = catalog.units_of[number]
            unit = "BOX" if "BOX" in units and r() < 0.25 else item["baseUnitOfMeasureCode"]
            quantity = float(1 + int(r() * (5 if unit == "BOX" else 20)))
            shipped = float(int(r() * quantity)) if status == "Released" and r() < 0.4 else 0.0
            stock_at[(number, location)]["qtyOnSalesOrders"] += (quantity - shipped) * units[unit]
            lines.append(
                _line(
                    r,
                    item,
                    _Unit(unit, ref.unit_ids[unit], units[unit]),
                    quantity,
                    shipped,
                    rate,
                    ref.location_ids[location],
                    delivery if delivery != BLANK_DATE else order_date,
                )
            )
        if services and r() < 0.2:
            item = services[int(r() * len(services))]
            hour = _Unit("HOUR", ref.unit_ids["HOUR"], 1.0)
            lines.append(_line(r, item, hour, float(2 + int(r() * 10)), 0.0, rate, NIL_GUID, order_date))
        stamp = next(stamps)
        for sequence, line in enumerate(lines, start=1):
            line.update(
                id=s.guid(), documentId=order_id, sequence=10000 * sequence, lastModifiedDateTime=stamp
            )
        excluding = money(sum(line["amountExcludingTax"] for line in lines))
        tax = money(excluding * SALES_TAX) if customer["taxLiable"] else 0.0
        result.lines += lines
        result.orders.append(
            {
                "id": order_id,
                "number": f"S-ORD{101001 + k}",
                "externalDocumentNumber": f"PO-{20000 + int(r() * 80000)}" if r() < 0.4 else "",
                "orderDate": order_date,
                "postingDate": order_date,
                "customerId": customer["id"],
                "customerNumber": customer["number"],
                "customerName": customer["displayName"],
                "currencyId": customer["currencyId"],
                "currencyCode": currency,
                "pricesIncludeTax": False,
                "salesperson": customer["salespersonCode"],
                "requestedDeliveryDate": delivery,
                "discountAmount": 0.0,
                "discountAppliedBeforeTax": True,
                "totalAmountExcludingTax": excluding,
                "totalTaxAmount": tax,
                "totalAmountIncludingTax": money(excluding + tax),
                "fullyShipped": False,
                "status": status,
                "lastModifiedDateTime": stamp,
            }
        )
    # Outstanding quantities are whole numbers of base units; keep the JSON free of "12.0".
    for row in catalog.stock:
        row["qtyOnSalesOrders"] = int(row["qtyOnSalesOrders"])
    return result


@dataclass(frozen=True, slots=True)
class _Unit:
    code: str
    id: str
    qty_per_unit: float


def _line(
    r: Callable[[], float],
    item: Row,
    unit: _Unit,
    quantity: float,
    shipped: float,
    rate: float,
    location_id: str,
    shipment_date: str,
) -> Row:
    """One item line priced from the item's unit price, converted to the order's currency."""
    qty_per_unit = unit.qty_per_unit
    unit_price = round(item["unitPrice"] * qty_per_unit / rate, 2)
    discount = (0.0, 0.0, 0.0, 5.0, 10.0)[int(r() * 5)]
    gross = quantity * unit_price
    amount = money(gross * (1 - discount / 100))
    return {
        "id": "",
        "documentId": "",
        "sequence": 0,
        "itemId": item["id"],
        "accountId": NIL_GUID,
        "lineType": "Item",
        "lineObjectNumber": item["number"],
        "description": item["displayName"],
        "unitOfMeasureId": unit.id,
        "unitOfMeasureCode": unit.code,
        "quantity": quantity,
        "unitPrice": unit_price,
        "discountAmount": money(gross - amount),
        "discountPercent": discount,
        "amountExcludingTax": amount,
        "shipmentDate": shipment_date,
        "shippedQuantity": shipped,
        "locationId": location_id,
        "lastModifiedDateTime": "",
    }
