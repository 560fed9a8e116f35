"""GraphQL types of sales orders: the order as Sales holds it, and the typed rejections that answer an
order the gateway would not create (the `CreateSalesOrderResult` union). Resolvers return domain objects."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from gateway import domain
from gateway.domain import SalesOrderState as DomainSalesOrderState

SalesOrderState = strawberry.enum(
    DomainSalesOrderState,
    name="SalesOrderState",
    description="A Sales order's state (statecode); the gateway creates orders SUBMITTED.",
)


def _is(domain_class: type) -> Any:
    """`is_type_of` for a type built from a domain class (resolvers return domain objects)."""

    def check(cls: type, obj: Any, _info: Any) -> bool:
        return isinstance(obj, (cls, domain_class))

    return classmethod(check)


@strawberry.type(description="One line of a sales order, as Sales holds it.")
class SalesOrderLine:
    is_type_of = _is(domain.SalesOrderLine)

    sequence: int
    item_number: str
    unit_of_measure_code: str
    quantity: Decimal
    unit_price: Decimal = strawberry.field(description="The gateway's best price, entered as an override.")
    line_discount_percent: Decimal
    discount_amount: Decimal = strawberry.field(description="Entered as the line's manual discount.")
    line_amount: Decimal = strawberry.field(description="quantity * unit price - discount amount.")
    crm_id: strawberry.ID


@strawberry.type(
    description="A sales order in Sales (Dataverse); the sync engine carries submitted ones to the ERP."
)
class SalesOrder:
    is_type_of = _is(domain.SalesOrder)

    crm_id: strawberry.ID
    order_number: str = strawberry.field(description="Also the ERP order's external document number.")
    name: str
    state: SalesOrderState  # type: ignore[valid-type]
    status_code: int = strawberry.field(description="Dataverse statuscode (3: In Progress).")
    customer_number: str
    crm_account_id: strawberry.ID
    currency_code: str
    price_list_code: str | None
    requested_delivery_date: date | None
    lines: list[SalesOrderLine]
    total_amount: Decimal = strawberry.field(description="Sum of the line amounts.")
    total_discount_amount: Decimal
    created: bool = strawberry.field(
        description="False when an earlier call with the same idempotency key had created it."
    )
    idempotency_key: str | None


@strawberry.interface(description="Why the gateway did not create an order (an expected failure).")
class OrderProblem:
    message: str


@strawberry.type(description="The caller's key may not create orders (app keys read only).")
class PermissionDenied(OrderProblem):
    is_type_of = _is(domain.OrderNotPermitted)

    role: str


@strawberry.type(description="No such customer, or not one of the caller's (sales scope 'own').")
class UnknownCustomer(OrderProblem):
    is_type_of = _is(domain.UnknownCustomer)

    customer_number: str


@strawberry.type(description="The customer exists on one side only: no CUSTOMER coupling.")
class CustomerNotCoupled(OrderProblem):
    is_type_of = _is(domain.CustomerNotCoupled)

    customer_number: str
    # Named apart from SalesOrder.crmId (ID!): one selection set may ask for both types' fields.
    erp_id: strawberry.ID | None = strawberry.field(name="erpCustomerId", description="Null: not in the ERP.")
    crm_id: strawberry.ID | None = strawberry.field(name="crmAccountId", description="Null: not in Sales.")


@strawberry.type(description='The customer is blocked in Business Central ("Ship", "Invoice" or "All").')
class CustomerBlocked(OrderProblem):
    is_type_of = _is(domain.CustomerBlocked)

    customer_number: str
    blocked: str


@strawberry.type(description="A line names an item that does not exist.")
class UnknownItem(OrderProblem):
    is_type_of = _is(domain.UnknownItem)

    line_index: int
    item_number: str


@strawberry.type(description="A line's item exists on one side only: no ITEM-PRODUCT coupling.")
class ItemNotCoupled(OrderProblem):
    is_type_of = _is(domain.ItemNotCoupled)

    line_index: int
    item_number: str


@strawberry.type(description="A line's item is blocked in Business Central.")
class ItemBlocked(OrderProblem):
    is_type_of = _is(domain.ItemBlocked)

    line_index: int
    item_number: str


@strawberry.type(description="The input is not a valid order; `field` names the input field at fault.")
class InvalidOrder(OrderProblem):
    is_type_of = _is(domain.InvalidOrder)

    field: str


CreateSalesOrderResult = Annotated[
    SalesOrder
    | PermissionDenied
    | UnknownCustomer
    | CustomerNotCoupled
    | CustomerBlocked
    | UnknownItem
    | ItemNotCoupled
    | ItemBlocked
    | InvalidOrder,
    strawberry.union(
        "CreateSalesOrderResult",
        description="The order created (or found again by its idempotency key), or why not.",
    ),
]
