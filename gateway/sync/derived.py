"""ERP values that no single BC entity carries but a mapping needs, derived from the mirror: a
customer's default price list is the active list of its customer price group (DOMAIN §5, which
Microsoft leaves out), found through `customerPricing` and `priceListHeaders`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.domain import Side
from gateway.store import mirror
from gateway.store.engine import StoreSession
from gateway.store.sync_tables import MirrorRecord
from gateway.sync.model import TableMapping

PRICE_LIST_CODE = "priceListCode"


def needs_derivation(table: TableMapping) -> bool:
    return table.erp_entity == "customers" and any(f.erp_field == PRICE_LIST_CODE for f in table.fields)


async def customer_price_lists(
    session: StoreSession, *, customer_ids: Iterable[str] | None = None
) -> dict[str, str]:
    """Customer id → code of the active price list whose source is the customer's price group, for
    these customers (a `customerPricing` row's id is its customer's), or every one when None."""
    pricing = await mirror.load_records(
        session,
        side=Side.ERP,
        entity_set="customerPricing",
        ids=None if customer_ids is None else list(customer_ids),
    )
    headers = await mirror.load_records(session, side=Side.ERP, entity_set="priceListHeaders")
    by_group: dict[str, str] = {}
    for header in sorted(headers.values(), key=lambda h: str(h.values.get("code") or "")):
        values = header.values
        if values.get("sourceType") == "CustomerPriceGroup" and values.get("status") == "Active":
            by_group.setdefault(str(values.get("sourceNo") or ""), str(values.get("code") or ""))
    result: dict[str, str] = {}
    for customer_id, row in pricing.items():
        group = row.values.get("customerPriceGroupCode")
        if group and group in by_group:
            result[customer_id] = by_group[group]
    return result


def derive(records: Mapping[str, MirrorRecord], price_lists: Mapping[str, str]) -> None:
    """Add the derived fields to the ERP records' values (in memory; the mirror keeps BC's own)."""
    for record_id, record in records.items():
        values: dict[str, Any] = dict(record.values)
        values[PRICE_LIST_CODE] = price_lists.get(record_id)
        record.values = values
