"""Resolvers of the order mutations: `createSalesOrder` hands the input to the order service and
returns its answer — a `SalesOrder` or a typed rejection (expected failures are data).

A Dataverse failure becomes one GraphQL error saying whether the order may exist and whether a
retry helps, with a correlation id the log carries too; nothing else about the upstream leaks.
"""

from __future__ import annotations

import logging
import uuid

from graphql import GraphQLError

from gateway.services.order_checks import OrderLineRequest
from gateway.services.order_writes import OrderSubmissionFailed
from gateway.services.orders import CreateSalesOrderResult
from resolvers.context import Info
from schema.inputs import CreateSalesOrderInput

log = logging.getLogger("gateway.orders")


async def create_sales_order(info: Info, input: CreateSalesOrderInput) -> CreateSalesOrderResult:
    try:
        return await info.context.services.orders.create_sales_order(
            info.context.principal,
            customer_number=input.customer_number,
            lines=[
                OrderLineRequest(
                    item_number=line.item_number,
                    quantity=line.quantity,
                    unit_of_measure_code=line.unit_of_measure_code,
                )
                for line in input.lines
            ],
            requested_delivery_date=input.requested_delivery_date,
            name=input.name,
            idempotency_key=input.idempotency_key,
        )
    except OrderSubmissionFailed as exc:
        correlation_id = uuid.uuid4().hex
        log.warning(
            "createSalesOrder failed upstream [%s] (%s): %s",
            correlation_id,
            exc.outcome,
            exc,
            exc_info=exc.__cause__,
        )
        raise GraphQLError(
            f"{exc} (correlation id {correlation_id})",
            extensions={
                "code": "UPSTREAM_FAILED",
                "orderOutcome": exc.outcome.upper(),
                "retriable": exc.retriable,
                "correlationId": correlation_id,
            },
        ) from None
