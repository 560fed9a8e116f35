"""The Mutation root: what salespeople change through the gateway (orders, into Sales)."""

from __future__ import annotations

import strawberry

from resolvers import orders
from schema.order_types import CreateSalesOrderResult


@strawberry.type
class Mutation:
    create_sales_order = strawberry.mutation(
        resolver=orders.create_sales_order,
        graphql_type=CreateSalesOrderResult,
        description="Create a submitted sales order in Sales at the gateway's best prices (sales and admin "
        "keys); the sync engine carries it to Business Central. Expected failures are typed results. "
        "Pass an idempotencyKey to make a retry safe.",
    )
