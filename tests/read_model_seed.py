"""Test data for the read model until the sync engine fills it: the simulators' demo data projected
through `project_records`, and couplings made the way a match-based coupling would make them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain import Side, UpstreamRecord
from gateway.simulators.demo_data import DemoData, generate
from gateway.store.couplings import create_coupling
from gateway.store.engine import session_factory
from gateway.store.read_projection import project_records
from gateway.store.tables import CouplingState

CRM_KEYS = {
    "accounts": "accountid",
    "products": "productid",
    "pricelevels": "pricelevelid",
    "systemusers": "systemuserid",
    "transactioncurrencies": "transactioncurrencyid",
}


@dataclass
class Seeded:
    data: DemoData
    coupled: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """mapping -> [(erp id, crm id)] of the couplings made."""
    errored: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def records(side: Side, entity_set: str, rows: list[dict[str, Any]]) -> list[UpstreamRecord]:
    key = CRM_KEYS.get(entity_set, "id") if side is Side.CRM else "id"
    return [UpstreamRecord(entity_set, str(row[key]), row) for row in rows if row.get(key)]


def _pairs(
    erp: list[dict[str, Any]], crm: list[dict[str, Any]], erp_key: str, crm_key: str, crm_id: str
) -> list[tuple[str, str]]:
    by_key = {str(row[crm_key]).lower(): row for row in crm if row.get(crm_key)}
    pairs = []
    for row in erp:
        other = by_key.get(str(row.get(erp_key) or "").lower())
        if other is not None:
            pairs.append((str(row["id"]), str(other[crm_id])))
    return pairs


async def seed_read_model(
    engine: AsyncEngine, *, seed: int = 42, customers: int = 60, items: int = 40
) -> Seeded:
    """Project the demo data of (seed, customers, items) and couple what matches by number/code/email.

    The second coupled customer is put in the error state, so every coupling state exists.
    """
    data = generate(seed=seed, customers=customers, items=items)
    seeded = Seeded(data)
    async with session_factory(engine)() as session:
        for side, sets in ((Side.ERP, data.erp), (Side.CRM, data.crm)):
            for entity_set, rows in sets.items():
                await project_records(
                    session, side=side, entity_set=entity_set, records=records(side, entity_set, rows)
                )
        plans = {
            "CUSTOMER": _pairs(
                data.erp["customers"], data.crm["accounts"], "number", "accountnumber", "accountid"
            ),
            "ITEM-PRODUCT": _pairs(
                data.erp["items"], data.crm["products"], "number", "productnumber", "productid"
            ),
            "SALESPEOPLE": _pairs(
                data.erp["salespersonPurchasers"],
                data.crm["systemusers"],
                "email",
                "internalemailaddress",
                "systemuserid",
            ),
            "CURRENCY": _pairs(
                data.erp["currencies"],
                data.crm["transactioncurrencies"],
                "code",
                "isocurrencycode",
                "transactioncurrencyid",
            ),
            "PRICE LIST": _pairs(
                data.erp["priceListHeaders"], data.crm["pricelevels"], "code", "name", "pricelevelid"
            ),
        }
        for mapping, pairs in plans.items():
            for index, (erp_id, crm_id) in enumerate(pairs):
                failed = mapping == "CUSTOMER" and index == 1
                await create_coupling(
                    session,
                    mapping=mapping,
                    erp_id=erp_id,
                    crm_id=crm_id,
                    state=CouplingState.ERROR if failed else CouplingState.COUPLED,
                )
                target = seeded.errored if failed else seeded.coupled
                target.setdefault(mapping, []).append((erp_id, crm_id))
        await session.commit()
    return seeded
