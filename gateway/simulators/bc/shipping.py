"""Posting a sales shipment, as a warehouse clerk does in Business Central's client (API v2.0 has
no ship-only action): `POST /_sim/ship {"orderNumber" or "orderId", "lines": {"<sequence>": qty}}`.

Each item line ships its outstanding quantity (or the quantity given for its sequence): its
`shippedQuantity` grows, the base quantity leaves the stock of the line's location (the item's
`inventory` follows, availability stays consistent; subscribers to `items` are notified, as they are
of the order), and the order's `fullyShipped` turns true once
nothing is outstanding. The API cannot write those fields (read-only, as in BC); this is how they
change. Raises ValueError for an unknown order, a line that is not on it, or too much quantity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from gateway.simulators.odata.store import COMPANY_COLUMN, VERSION_COLUMN, Store

ChangeLog = Callable[[Store, str, Any, str, str], None]


def _quantities(body: Mapping[str, Any]) -> tuple[str, str, dict[int, float] | None]:
    """(column, value) naming the order, and the quantities per line sequence (None: everything)."""
    number, order_id = body.get("orderNumber"), body.get("orderId")
    if isinstance(number, str) and number and order_id is None:
        column, value = "number", number
    elif isinstance(order_id, str) and order_id and number is None:
        column, value = "id", order_id.lower()
    else:
        raise ValueError("name the order by its orderNumber or its orderId (one of them)")
    lines = body.get("lines")
    if lines is None:
        return column, value, None
    if not isinstance(lines, Mapping):
        raise ValueError('lines must map a line sequence to the quantity to ship: {"10000": 2}')
    try:
        return column, value, {int(k): float(v) for k, v in lines.items()}
    except (TypeError, ValueError):
        raise ValueError("lines must map whole-number sequences to numeric quantities") from None


def _base_factor(conn: sa.Connection, store: Store, company: str, item: str, unit: str | None) -> float:
    units = store.tables["itemUnitsOfMeasure"]
    found = conn.execute(
        sa.select(units.c.qtyPerUnitOfMeasure).where(
            units.c[COMPANY_COLUMN] == company, units.c.itemNumber == item, units.c.code == (unit or "")
        )
    ).scalar()
    return float(found) if found else 1.0


def _take_stock(
    conn: sa.Connection, store: Store, stock: sa.Table, *, company: str, item: str, location: str, base: float
) -> None:
    where = (stock.c[COMPANY_COLUMN] == company, stock.c.itemNumber == item, stock.c.locationCode == location)
    if conn.execute(sa.select(stock.c.itemNumber).where(*where)).first() is None:
        # BC allows negative inventory unless the setup forbids it: the location goes below zero.
        keys = {COMPANY_COLUMN: company, "itemNumber": item, "locationCode": location}
        conn.execute(
            stock.insert().values(inventory=-base, qtyOnSalesOrders=0.0, qtyOnPurchaseOrders=0.0, **keys)
        )
    else:
        conn.execute(stock.update().where(*where).values(inventory=stock.c.inventory - base))
    items = store.tables["items"]
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(stock.c.inventory), 0)).where(
            stock.c[COMPANY_COLUMN] == company, stock.c.itemNumber == item
        )
    ).scalar_one()
    conn.execute(
        items.update()
        .where(items.c.number == item, items.c[COMPANY_COLUMN] == company)
        .values(
            inventory=float(total), lastModifiedDateTime=store.now(), **{VERSION_COLUMN: store.next_version()}
        )
    )


def ship(
    store: Store, stock: sa.Table, body: Mapping[str, Any], *, company: str, log: ChangeLog | None = None
) -> dict[str, Any]:
    """Post a shipment of one order (see module docstring); returns what shipped per line sequence."""
    column, value, wanted = _quantities(body)
    orders, lines = store.tables["salesOrders"], store.tables["salesOrderLines"]
    items, locations = store.tables["items"], store.tables["locations"]
    shipped: dict[str, float] = {}
    stocked: dict[str, None] = {}  # the ids of the items whose inventory changed, in line order
    with store.transaction() as conn:
        order = conn.execute(
            sa.select(orders.c.id, orders.c.number).where(
                orders.c[column] == value, orders.c[COMPANY_COLUMN] == company
            )
        ).first()
        if order is None:
            raise ValueError(f"no sales order with {'number' if column == 'number' else 'id'} {value}")
        number = str(order.number)
        rows = (
            conn.execute(
                sa.select(lines, items.c.number.label("item_number"), locations.c.code.label("location_code"))
                .select_from(
                    lines.outerjoin(items, items.c.id == lines.c.itemId).outerjoin(
                        locations, locations.c.id == lines.c.locationId
                    )
                )
                .where(lines.c.documentId == order.id, sa.func.coalesce(lines.c.lineType, "Item") == "Item")
                .order_by(lines.c.sequence)
            )
            .mappings()
            .all()
        )
        unknown = set(wanted or ()) - {int(r["sequence"]) for r in rows}
        if unknown:
            raise ValueError(f"order {number} has no item line with sequence {sorted(unknown)}")
        outstanding_after = 0.0
        for row in rows:
            outstanding = float(row["quantity"] or 0) - float(row["shippedQuantity"] or 0)
            quantity = outstanding if wanted is None else wanted.get(int(row["sequence"]), 0.0)
            if quantity < 0 or quantity > outstanding + 1e-9:
                raise ValueError(
                    f"line {row['sequence']} of {number} has {outstanding} left to ship, not {quantity}"
                )
            outstanding_after += outstanding - quantity
            if quantity == 0:
                continue
            item = row["item_number"] or row["lineObjectNumber"]
            base = quantity * _base_factor(conn, store, company, item, row["unitOfMeasureCode"])
            _take_stock(
                conn, store, stock, company=company, item=item, location=row["location_code"] or "", base=base
            )
            if row["itemId"]:
                stocked[str(row["itemId"])] = None
            conn.execute(
                lines.update()
                .where(lines.c.id == row["id"])
                .values(
                    shippedQuantity=float(row["shippedQuantity"] or 0) + quantity,
                    lastModifiedDateTime=store.now(),
                    **{VERSION_COLUMN: store.next_version()},
                )
            )
            shipped[str(row["sequence"])] = quantity
        fully = outstanding_after <= 1e-9
        conn.execute(
            orders.update()
            .where(orders.c.id == order.id)
            .values(
                fullyShipped=fully, lastModifiedDateTime=store.now(), **{VERSION_COLUMN: store.next_version()}
            )
        )
    if log is not None:
        log(store, "salesOrders", company, str(order.id), "updated")
        for item_id in stocked:  # their `inventory` and lastModifiedDateTime moved: a change BC notifies
            log(store, "items", company, item_id, "updated")
    return {"orderNumber": number, "shipped": shipped, "fullyShipped": fully}


__all__ = ["ship"]
