"""Business Central's OData behaviour: company-scoped paths, 20,000-row pages, required If-Match.

Also keeps sales order amounts consistent when lines change, as BC's own validation does.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gateway.simulators.odata.errors import ODataError
from gateway.simulators.odata.flavor import Flavor, Scope
from gateway.simulators.odata.model import EntitySet
from gateway.simulators.odata.paths import Segment
from gateway.simulators.odata.store import COMPANY_COLUMN, VERSION_COLUMN, Store
from gateway.simulators.odata.values import format_datetime

from .validation import validate_line, validate_order


class BusinessCentralFlavor(Flavor):
    name = "bc"
    max_page_size = 20_000
    allow_skip = True
    require_if_match = True
    patch_upsert = False
    always_include_key = False
    datetime_millis = True
    post_returns_entity = True
    patch_returns_entity = True
    error_codes = {
        "NotFound": "BadRequest_NotFound",
        "RecordNotFound": "Internal_RecordNotFound",
        "BadRequest": "BadRequest",
        "EntityChanged": "Request_EntityChanged",
        "PreconditionFailed": "Request_EntityChanged",
        "PreconditionRequired": "Internal_RequestPreconditionRequired",
        "MethodNotAllowed": "BadRequest_MethodNotAllowed",
        "DuplicateRecord": "Internal_EntityWithSameKeyExists",
        "SkipNotSupported": "BadRequest",
        "Unauthorized": "Authentication_InvalidCredentials",
        "TooManyRequests": "Application_TooManyRequests",
        "ServiceUnavailable": "Application_ServiceUnavailable",
    }

    def etag(self, entity_set: EntitySet, row: dict[str, Any]) -> str | None:
        # BC etags are opaque base64 strings (the row's SQL timestamp); we encode our row version.
        version = row.get(VERSION_COLUMN)
        if version is None:
            return None
        raw = f"'{len(str(version))};{version};00;'".encode()
        return f'W/"{base64.b64encode(raw).decode()}"'

    def stamp(
        self,
        entity_set: EntitySet,
        values: dict[str, Any],
        *,
        store: Store,
        created: bool,
        changed: frozenset[str] = frozenset(),
    ) -> None:
        if entity_set.name == "salesOrders":
            validate_order(store, values, created=created, changed=set(changed))
        elif entity_set.name == "salesOrderLines":
            validate_line(store, values, created=created, changed=set(changed))
        values[VERSION_COLUMN] = store.next_version()
        if entity_set.prop("lastModifiedDateTime") is not None:
            values["lastModifiedDateTime"] = store.now()
        series = NUMBER_SERIES.get(entity_set.name)
        if created and series is not None and not values.get("number"):
            values["number"] = _next_number(store, entity_set, values.get(COMPANY_COLUMN), *series)

    def resolve_scope(self, segments: list[Segment], store: Store) -> tuple[Scope, list[Segment]]:
        first = segments[0]
        if first.name != "companies" or first.keys is None or len(segments) < 2:
            return Scope(), segments
        literal = first.keys.get("") or first.keys.get("id")
        if literal is None:
            raise ODataError(400, "BadRequest", "A company is addressed by its id.")
        companies = store.tables["companies"]
        try:
            company_id = str(uuid.UUID(literal.text))
        except ValueError:
            raise ODataError(400, "BadRequest", f"Invalid company id '{literal.text}'.") from None
        found = store.conn.execute(sa.select(companies.c.id).where(companies.c.id == company_id)).first()
        if found is None:
            raise ODataError(404, "NotFound", f"Cannot find the company with id '{company_id}'.")
        return Scope(company=company_id, prefix=f"companies({company_id})/"), segments[1:]

    def decorate(self, entity_set: EntitySet, out: dict[str, Any], store: Store) -> None:
        if entity_set.computed and "asOfDateTime" in out:
            now = datetime.fromtimestamp(store.clock(), UTC).replace(tzinfo=None)
            out["asOfDateTime"] = format_datetime(now, millis=True)

    # Set by the webhook hub: called for every change so subscriptions can be notified.
    change_log: Callable[[Store, str, Any, str, str], None] | None = None

    def after_write(self, entity_set: EntitySet, row: dict[str, Any], store: Store, *, change: str) -> None:
        if entity_set.name == "salesOrderLines":
            _recalculate_line(store, row)
            if row.get("documentId"):
                _recalculate_order(store, row["documentId"])
                self._log(store, "salesOrders", row.get(COMPANY_COLUMN), row["documentId"], "updated")
        self._log(store, entity_set.name, row.get(COMPANY_COLUMN), row.get("id"), change)

    def _log(self, store: Store, set_name: str, company: Any, entity_id: Any, change: str) -> None:
        if self.change_log is not None and entity_id is not None:
            self.change_log(store, set_name, company, str(entity_id), change)


# BC assigns a blank number from the set's number series: (prefix, increment).
NUMBER_SERIES = {"customers": ("C", 10), "salesOrders": ("S-ORD", 1)}


def _next_number(store: Store, entity_set: EntitySet, company: Any, prefix: str, step: int) -> str:
    """The highest ``<prefix><digits>`` in use plus ``step``, keeping the digits' width."""
    table = store.tables[entity_set.name]
    number = table.c.number
    digits = sa.func.substr(number, len(prefix) + 1)
    # GLOB is case-sensitive and wildcard-exact; the series prefixes hold no GLOB metacharacters.
    highest = store.conn.execute(
        sa.select(number)
        .where(
            table.c[COMPANY_COLUMN] == company,
            number.op("GLOB")(f"{prefix}[0-9]*"),
            digits.op("NOT GLOB")("*[^0-9]*"),
        )
        .order_by(sa.func.length(number).desc(), number.desc())
        .limit(1)
    ).scalar()
    if highest is None:
        return f"{prefix}{10**4}"  # an empty series starts at 10000
    tail = str(highest)[len(prefix) :]
    return f"{prefix}{int(tail) + step:0{len(tail)}d}"


def _recalculate_line(store: Store, row: dict[str, Any]) -> None:
    """amountExcludingTax = quantity x unitPrice - discount, as BC validates a line."""
    if row.get(VERSION_COLUMN) is None:
        return  # deleted
    lines = store.tables["salesOrderLines"]
    quantity = float(row.get("quantity") or 0)
    price = float(row.get("unitPrice") or 0)
    gross = quantity * price
    percent = float(row.get("discountPercent") or 0)
    discount = round(gross * percent / 100, 2) if percent else float(row.get("discountAmount") or 0)
    net = round(gross - discount, 2)
    tax = round(net * float(row.get("taxPercent") or 0) / 100, 2)
    store.conn.execute(
        lines.update()
        .where(lines.c.id == row["id"])
        .values(
            discountAmount=discount,
            amountExcludingTax=net,
            netAmount=net,
            totalTaxAmount=tax,
            amountIncludingTax=net + tax,
        )
    )


def _recalculate_order(store: Store, order_id: str) -> None:
    lines = store.tables["salesOrderLines"]
    orders = store.tables["salesOrders"]
    sums = store.conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(lines.c.amountExcludingTax), 0),
            sa.func.coalesce(sa.func.sum(lines.c.totalTaxAmount), 0),
        ).where(lines.c.documentId == order_id)
    ).one()
    order = store.conn.execute(sa.select(orders).where(orders.c.id == order_id)).mappings().first()
    if order is None:
        return
    net = round(float(sums[0]) - float(order["discountAmount"] or 0), 2)
    tax = round(float(sums[1]), 2)
    store.conn.execute(
        orders.update()
        .where(orders.c.id == order_id)
        .values(
            totalAmountExcludingTax=net,
            totalTaxAmount=tax,
            totalAmountIncludingTax=round(net + tax, 2),
            lastModifiedDateTime=store.now(),
            **{VERSION_COLUMN: store.next_version()},
        )
    )


__all__ = ["COMPANY_COLUMN", "BusinessCentralFlavor"]
