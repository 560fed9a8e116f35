"""Mappings that read the same entity set share its mirror rows, not their scope: UNIT GROUP and
ITEM-PRODUCT both poll BC `items`, and ERP PRICING polls `itemUnitsOfMeasure`, `priceListHeaders`
and `priceListLines` beside ITEM UOM, PRICE LIST and PRICE LIST LINE. Whichever of them runs first
brings the changed row into the mirror; the other must still sync it in its own run (before the
fix it found the row already up to date and left it out until the next full sync). The same holds
for an item ITEM-PRODUCT creates from a CRM product: it is mirrored at once, and UNIT GROUP's poll
must still give it a unit group."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from gateway.simulators import SimulatorOptions
from gateway.store.tables import Coupling, CouplingState
from gateway.sync.full import FullSync
from gateway.sync.pricing_mirror import ERP_PRICING
from tests.sync.world import World, build_world

OPTIONS = SimulatorOptions(customers=20, items=20)
SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def synced(database_url: str) -> AsyncIterator[World]:
    w = await build_world(database_url, OPTIONS)
    try:
        await FullSync(w.engine).run()  # the demo data's ambiguities end some runs in errors
        yield w
    finally:
        await w.close()


async def _couplings(w: World, mapping: str) -> list[Coupling]:
    async with w.sessions() as session:
        statement = select(Coupling).where(
            Coupling.mapping == mapping, Coupling.state == CouplingState.COUPLED.value
        )
        return sorted((await session.exec(statement)).all(), key=lambda c: c.erp_key or "")


async def _crm(w: World, entity_set: str, crm_id: str) -> dict[str, Any]:
    return dict((await w.crm.get(entity_set, uuid.UUID(crm_id))).values)


async def _run(w: World, mapping: str) -> None:
    summary = await w.engine.run(mapping=mapping, direction="erp_to_crm")
    assert summary.status == "success", summary


@SQLITE
@pytest.mark.parametrize(
    "first, second",
    [("UNIT GROUP", "ITEM-PRODUCT"), ("ITEM-PRODUCT", "UNIT GROUP")],
    ids=["unit-group-first", "item-product-first"],
)
async def test_an_item_edit_reaches_both_mappings_of_items_whichever_runs_first(
    synced: World, first: str, second: str
) -> None:
    w = synced
    units: dict[str, set[str]] = {}
    async for page in w.erp.pages("itemUnitsOfMeasure", api="integration"):
        for unit in page:
            units.setdefault(str(unit.values["itemNumber"]), set()).add(str(unit.values["code"]))
    products = {c.erp_id: c for c in await _couplings(w, "ITEM-PRODUCT")}
    groups = {c.erp_id: c for c in await _couplings(w, "UNIT GROUP")}
    # An item coupled by both mappings with a second unit to switch its base unit to.
    candidates = []
    for erp_id in sorted(products.keys() & groups.keys()):
        values = dict((await w.erp.get("items", erp_id)).values)
        others = sorted(units.get(str(values["number"]), set()) - {values["baseUnitOfMeasureCode"]})
        candidates += [(erp_id, values, code) for code in others]
    item_id, item, other_unit = candidates[0]
    # One edit touching a field of each mapping: the name (ITEM-PRODUCT), the base unit (UNIT GROUP).
    name = f"{item['displayName']} (renamed)"
    await w.erp.update("items", item_id, {"displayName": name, "baseUnitOfMeasureCode": other_unit}, etag="*")

    await _run(w, first)
    await _run(w, second)

    assert (await _crm(w, "products", products[item_id].crm_id))["name"] == name
    assert (await _crm(w, "uomschedules", groups[item_id].crm_id))["baseuomname"] == other_unit


@SQLITE
@pytest.mark.parametrize(
    "mapping, entity_set, erp_field, crm_set, crm_field",
    [
        ("PRICE LIST LINE", "priceListLines", "unitPrice", "productpricelevels", "amount"),
        ("PRICE LIST", "priceListHeaders", "description", "pricelevels", "description"),
        ("ITEM UOM", "itemUnitsOfMeasure", "qtyPerUnitOfMeasure", "uoms", "quantity"),
    ],
)
async def test_a_pricing_edit_mirrored_by_erp_pricing_first_still_reaches_the_crm(
    synced: World, mapping: str, entity_set: str, erp_field: str, crm_set: str, crm_field: str
) -> None:
    """The scheduler polls ERP PRICING on its own interval; a mapping running after it must not
    take the rows it already mirrored for unchanged."""
    w = synced
    candidates = []
    for coupling in await _couplings(w, mapping):
        values = dict((await w.erp.get(entity_set, coupling.erp_id, api="integration")).values)
        if erp_field == "qtyPerUnitOfMeasure" and values[erp_field] == 1:
            continue  # a base unit's quantity stays 1
        candidates.append((coupling, values))
    coupling, values = candidates[0]
    old = values[erp_field]
    new: Any = f"{old} (edited)" if isinstance(old, str) else old + 3
    await w.erp.update(entity_set, coupling.erp_id, {erp_field: new}, etag="*", api="integration")

    pricing = await w.engine.run(mapping=ERP_PRICING, direction="erp_to_crm")
    assert pricing.status == "success" and pricing.counts["modified"] >= 1, pricing
    await _run(w, mapping)

    assert (await _crm(w, crm_set, coupling.crm_id))[crm_field] == new


@SQLITE
async def test_an_item_made_from_a_crm_product_gets_its_unit_group_in_the_next_run(synced: World) -> None:
    """ITEM-PRODUCT creates the BC item and mirrors it at once; UNIT GROUP's next poll of `items`
    returns it and must create its unit group (before, it waited for a full sync)."""
    w = synced
    product = await w.crm.create(
        "products", {"name": "Shared-set stool", "producttypecode": 1, "statecode": 0}
    )
    created = await w.engine.run(mapping="ITEM-PRODUCT", direction="crm_to_erp")
    assert created.counts["inserted"] == 1, created
    # Its coupling waits in error: the product's unit group lookup has no unit group yet.
    async with w.sessions() as session:
        statement = select(Coupling).where(Coupling.mapping == "ITEM-PRODUCT", Coupling.crm_id == product.id)
        coupling = (await session.exec(statement)).one()
    number = (await w.erp.get("items", coupling.erp_id)).values["number"]

    await _run(w, "UNIT GROUP")

    groups = [c for c in await _couplings(w, "UNIT GROUP") if c.erp_id == coupling.erp_id]
    assert len(groups) == 1, "UNIT GROUP's run left the new item without a unit group"
    assert (await _crm(w, "uomschedules", groups[0].crm_id))["name"] == number
