"""Sales order state in Dataverse: an order is fulfilled with the `FulfillSalesOrder` action (which
closes it with an `orderclose` activity), never by writing `statecode`: PATCHing an order to
Fulfilled (3) or Invoiced (4) is refused, as Dataverse refuses it.

    POST /api/data/v9.2/FulfillSalesOrder
    {"OrderClose": {"subject": "...", "salesorderid@odata.bind": "/salesorders(<id>)"}, "Status": 100001}
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from gateway.simulators.odata.errors import ODataError
from gateway.simulators.odata.store import VERSION_COLUMN, Store
from gateway.simulators.odata.wire import ODataRequest, ODataResponse

ACTIVE, SUBMITTED, FULFILLED, INVOICED = 0, 1, 3, 4
FULFILLED_REASONS = {100001: "Complete", 100002: "Partial"}
_BIND = re.compile(r"^/?salesorders\(([0-9a-fA-F-]{36})\)$")

FULFILL_CSDL = (
    '<EntityType Name="orderclose"><Key><PropertyRef Name="activityid"/></Key>'
    '<Property Name="activityid" Type="Edm.Guid" Nullable="false"/>'
    '<Property Name="subject" Type="Edm.String"/></EntityType>'
    '<Action Name="FulfillSalesOrder">'
    '<Parameter Name="OrderClose" Type="mscrm.orderclose" Nullable="false"/>'
    '<Parameter Name="Status" Type="Edm.Int32" Nullable="false"/>'
    "</Action>"
)


def refuse_state_writes(values: dict[str, Any]) -> None:
    """An update may not move an order to Fulfilled or Invoiced (their own messages do that)."""
    if values.get("statecode") == FULFILLED:
        raise ODataError(
            400,
            "BadRequest",
            "This message can not be used to set the state of salesorder to Fulfilled. "
            "In order to set state of salesorder to Fulfilled, use the FulfillSalesOrder message instead.",
        )
    if values.get("statecode") == INVOICED:
        raise ODataError(
            400,
            "BadRequest",
            "An order becomes Invoiced when it is converted to an invoice, not by an update.",
        )


def _order_id(body: Any) -> tuple[str, int]:
    if not isinstance(body, dict):
        raise ODataError(400, "BadRequest", "FulfillSalesOrder needs a JSON object body.")
    close, status = body.get("OrderClose"), body.get("Status")
    bind = close.get("salesorderid@odata.bind") if isinstance(close, dict) else None
    match = _BIND.match(bind) if isinstance(bind, str) else None
    if match is None:
        raise ODataError(
            400,
            "BadRequest",
            'OrderClose must bind the order: "salesorderid@odata.bind": "/salesorders(<id>)".',
        )
    if not isinstance(status, int) or isinstance(status, bool) or status not in FULFILLED_REASONS:
        allowed = ", ".join(f"{code} ({name})" for code, name in FULFILLED_REASONS.items())
        raise ODataError(400, "BadRequest", f"Status must be a Fulfilled status reason: {allowed}.")
    return match.group(1).lower(), status


def fulfill_sales_order(request: ODataRequest, store: Store) -> ODataResponse:
    """The action: an active or submitted order becomes Fulfilled with the given status reason."""
    if request.method.upper() != "POST":
        raise ODataError(405, "MethodNotAllowed", "FulfillSalesOrder is an action; use POST.")
    order_id, status = _order_id(request.json_body())
    orders = store.tables["salesorders"]
    row = store.conn.execute(sa.select(orders).where(orders.c.salesorderid == order_id)).mappings().first()
    if row is None:
        raise ODataError(404, "RecordNotFound", f"salesorder With Id = {order_id} Does Not Exist")
    if row["statecode"] not in (ACTIVE, SUBMITTED):
        raise ODataError(
            400,
            "BadRequest",
            f"The order is not open (statecode {row['statecode']}): it cannot be fulfilled.",
        )
    version = store.next_version()
    store.conn.execute(
        orders.update()
        .where(orders.c.salesorderid == order_id)
        .values(
            statecode=FULFILLED,
            statuscode=status,
            modifiedon=store.now(),
            versionnumber=version,
            **{VERSION_COLUMN: version},
        )
    )
    return ODataResponse(204)


__all__ = ["FULFILL_CSDL", "fulfill_sales_order", "refuse_state_writes"]
