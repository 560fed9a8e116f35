"""Business Central rows as domain values: customers, items and availability (API v2.0 and the
integration API), and webhook subscriptions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.domain import Availability, Customer, Item, WebhookSubscription
from gateway.errors import UpstreamProtocolError
from gateway.upstream.records import as_bool, as_datetime, as_decimal, as_str

SERVICE = "erp"


def customer_from_row(row: Mapping[str, Any]) -> Customer:
    return Customer(
        erp_id=as_str(row.get("id")),
        number=as_str(row.get("number")),
        name=as_str(row.get("displayName")),
        address_line1=as_str(row.get("addressLine1")),
        address_line2=as_str(row.get("addressLine2")),
        city=as_str(row.get("city")),
        state=as_str(row.get("state")),
        country=as_str(row.get("country")),
        postal_code=as_str(row.get("postalCode")),
        phone=as_str(row.get("phoneNumber")),
        email=as_str(row.get("email")),
        website=as_str(row.get("website")),
        salesperson_code=as_str(row.get("salespersonCode")),
        currency_code=as_str(row.get("currencyCode")),
        credit_limit=as_decimal(row.get("creditLimit"), name="creditLimit", service=SERVICE),
        balance_due=as_decimal(row.get("balanceDue"), name="balanceDue", service=SERVICE),
        blocked=as_str(row.get("blocked")) or " ",
        modified_at=as_datetime(row.get("lastModifiedDateTime")),
    )


def item_from_row(row: Mapping[str, Any]) -> Item:
    return Item(
        erp_id=as_str(row.get("id")),
        number=as_str(row.get("number")),
        name=as_str(row.get("displayName")),
        type=as_str(row.get("type")) or "Inventory",
        item_category_code=as_str(row.get("itemCategoryCode")),
        blocked=as_bool(row.get("blocked")),
        gtin=as_str(row.get("gtin")),
        inventory=as_decimal(row.get("inventory"), name="inventory", service=SERVICE),
        unit_price=as_decimal(row.get("unitPrice"), name="unitPrice", service=SERVICE),
        price_includes_tax=as_bool(row.get("priceIncludesTax")),
        unit_cost=as_decimal(row.get("unitCost"), name="unitCost", service=SERVICE),
        base_unit_of_measure_code=as_str(row.get("baseUnitOfMeasureCode")),
        modified_at=as_datetime(row.get("lastModifiedDateTime")),
    )


def availability_from_row(row: Mapping[str, Any]) -> Availability:
    def number(name: str) -> Any:
        return as_decimal(row.get(name), name=name, service=SERVICE)

    return Availability(
        item_number=as_str(row.get("itemNumber")),
        location_code=as_str(row.get("locationCode")),
        unit_of_measure_code=as_str(row.get("unitOfMeasureCode")),
        inventory=number("inventory"),
        qty_on_sales_orders=number("qtyOnSalesOrders"),
        qty_on_purchase_orders=number("qtyOnPurchaseOrders"),
        available_quantity=number("availableQuantity"),
        projected_available_quantity=number("projectedAvailableQuantity"),
        as_of=as_datetime(row.get("asOfDateTime")) or datetime.now(UTC),
    )


def subscription_from_row(row: Mapping[str, Any]) -> WebhookSubscription:
    expires = as_datetime(row.get("expirationDateTime"))
    if expires is None or not as_str(row.get("subscriptionId")):
        raise UpstreamProtocolError("a subscription without id or expirationDateTime", service=SERVICE)
    return WebhookSubscription(
        id=as_str(row.get("subscriptionId")),
        resource=as_str(row.get("resource")),
        notification_url=as_str(row.get("notificationUrl")),
        client_state=as_str(row.get("clientState")),
        expires_at=expires,
        etag=as_str(row.get("@odata.etag")) or "*",
    )
