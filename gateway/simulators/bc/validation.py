"""What Business Central's field validation does when an API client writes a sales order or line:
fill the customer's and item's fields from an id or a number, default type, status, date and sequence.

A reference to a customer or item that does not exist is a 400, as BC's "does not exist" error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gateway.simulators.odata.errors import ODataError
from gateway.simulators.odata.store import COMPANY_COLUMN, Store


def _one(store: Store, set_name: str, company: Any, column: str, value: Any) -> dict[str, Any] | None:
    table = store.tables[set_name]
    row = (
        store.conn.execute(
            sa.select(table).where(table.c[column] == value, table.c[COMPANY_COLUMN] == company)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _missing(what: str, field: str, value: Any) -> ODataError:
    return ODataError(
        400, "BadRequest", f"The {what} does not exist. Identification fields and values: {field}='{value}'"
    )


def validate_order(store: Store, values: dict[str, Any], *, created: bool, changed: set[str]) -> None:
    company = values.get(COMPANY_COLUMN)
    customer = None
    if values.get("customerId") and (created or "customerId" in changed):
        customer = _one(store, "customers", company, "id", values["customerId"])
        if customer is None:
            raise _missing("Customer", "Id", values["customerId"])
    elif values.get("customerNumber") and (created or "customerNumber" in changed):
        customer = _one(store, "customers", company, "number", values["customerNumber"])
        if customer is None:
            raise _missing("Customer", "No.", values["customerNumber"])
    if customer is not None:
        values["customerId"] = customer["id"]
        values["customerNumber"] = customer["number"]
        values["customerName"] = customer["displayName"]
        for target, source in (("currencyCode", "currencyCode"), ("salesperson", "salespersonCode")):
            if not values.get(target):
                values[target] = customer.get(source)
    if created:
        if not values.get("status"):
            values["status"] = "Draft"
        if values.get("orderDate") is None:
            values["orderDate"] = datetime.fromtimestamp(store.clock(), UTC).date()


def validate_line(store: Store, values: dict[str, Any], *, created: bool, changed: set[str]) -> None:
    company = values.get(COMPANY_COLUMN)
    if created and not values.get("lineType"):
        values["lineType"] = "Item"
    if values.get("lineType") != "Item":
        return
    item = None
    if values.get("itemId") and (created or "itemId" in changed):
        item = _one(store, "items", company, "id", values["itemId"])
        if item is None:
            raise _missing("Item", "Id", values["itemId"])
    elif values.get("lineObjectNumber") and (created or "lineObjectNumber" in changed):
        item = _one(store, "items", company, "number", values["lineObjectNumber"])
        if item is None:
            raise _missing("Item", "No.", values["lineObjectNumber"])
    if item is not None:
        values["itemId"] = item["id"]
        values["lineObjectNumber"] = item["number"]
        if not values.get("description"):
            values["description"] = item["displayName"]
        if not values.get("unitOfMeasureCode"):
            values["unitOfMeasureCode"] = item["baseUnitOfMeasureCode"]
            values["unitOfMeasureId"] = item["baseUnitOfMeasureId"]
        if values.get("unitPrice") is None:
            values["unitPrice"] = item["unitPrice"]
    if created and values.get("sequence") is None and values.get("documentId"):
        lines = store.tables["salesOrderLines"]
        highest = store.conn.execute(
            sa.select(sa.func.max(lines.c.sequence)).where(lines.c.documentId == values["documentId"])
        ).scalar()
        values["sequence"] = int(highest or 0) + 10_000
