"""A run's pair updates fill whole `$batch`es across its chunks of pairs: a full run reconciles its
pairs in chunks (short commits) and each chunk used to send its own few updates, leaving a partly
filled batch behind per chunk (ITEM-PRODUCT's second pass at 5,000 items sent 499 product updates
in 2 batches). With 5 pairs a chunk and 4 CRM / 3 ERP operations a batch the boundaries fall in the
middle of every chunk; the runs must still make ⌈n / limit⌉ batches per side."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from gateway.simulators import SimulatorOptions
from gateway.store.tables import Coupling
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
from tests.sync.world import World, build_world

OPTIONS = SimulatorOptions(customers=30, items=20)
CRM_BATCH, ERP_BATCH, CHUNK = 4, 3, 5


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    w = await build_world(database_url, OPTIONS, crm_batch_size=CRM_BATCH, erp_batch_size=ERP_BATCH)
    yield w
    await w.close()


def _chunked(world: World) -> SyncEngine:
    return SyncEngine(sessions=world.sessions, erp=world.erp, crm=world.crm, chunk_size=CHUNK)


async def _batches(world: World, side: str) -> int:
    stats = await world.stats(side)
    return sum(r["count"] for r in stats["requests"] if r["entitySet"] == "$batch" and r["method"] == "POST")


async def _coupled(world: World, mapping: str) -> list[Coupling]:
    async with world.sessions() as session:
        rows = await session.exec(
            select(Coupling).where(Coupling.mapping == mapping, Coupling.state == "coupled")
        )
        return sorted(rows.all(), key=lambda c: c.id or 0)


async def _crm_rows(world: World, entity_set: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    async for page in world.crm.pages(entity_set):
        rows.update({r.id: dict(r.values) for r in page})
    return rows


async def _erp_rows(world: World, entity_set: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    async for page in world.erp.pages(entity_set):
        rows.update({r.id: dict(r.values) for r in page})
    return rows


async def test_product_updates_spread_over_chunks_fill_whole_batches(world: World) -> None:
    await FullSync(world.engine).run()
    couplings = await _coupled(world, "ITEM-PRODUCT")
    items = await _erp_rows(world, "items")
    for coupling in couplings:  # every pair changes: each chunk of 5 has 5 updates for batches of 4
        price = float(items[coupling.erp_id]["unitPrice"] or 0) + 1.25
        await world.erp.update("items", coupling.erp_id, {"unitPrice": price}, etag="*")
    assert len(couplings) >= 3 * CHUNK
    crm_before, erp_before = await _batches(world, "crm"), await _batches(world, "erp")

    summary = await _chunked(world).full(mapping="ITEM-PRODUCT")

    assert summary.counts["modified"] == len(couplings), summary.counts
    assert await _batches(world, "erp") == erp_before  # nothing to write there
    assert await _batches(world, "crm") - crm_before == math.ceil(len(couplings) / CRM_BATCH)
    products = await _crm_rows(world, "products")
    items = await _erp_rows(world, "items")
    for coupling in couplings:
        assert float(products[coupling.crm_id]["price"]) == float(items[coupling.erp_id]["unitPrice"])


async def test_updates_to_both_sides_fill_whole_batches_on_each(world: World) -> None:
    """CUSTOMER pairs changed in the ERP, in the CRM, or in both (other fields): a pair waits until
    both its writes are answered, and each side still gets ⌈n / its limit⌉ batches."""
    await FullSync(world.engine).run()
    couplings = await _coupled(world, "CUSTOMER")
    assert len(couplings) >= 3 * CHUNK
    to_crm = to_erp = 0
    for index, coupling in enumerate(couplings):
        if index % 3 != 1:  # changed in the ERP: the account is updated
            phone = f"+1 555 01{index:02d}"
            await world.erp.update("customers", coupling.erp_id, {"phoneNumber": phone}, etag="*")
            to_crm += 1
        if index % 3 != 0:  # changed in the CRM: the customer is updated
            website = f"https://example.com/{index}"
            await world.crm.update("accounts", uuid.UUID(coupling.crm_id), {"websiteurl": website}, etag="*")
            to_erp += 1
    crm_before, erp_before = await _batches(world, "crm"), await _batches(world, "erp")

    summary = await _chunked(world).full(mapping="CUSTOMER")

    assert summary.counts["modified"] == to_crm + to_erp, summary.counts
    assert await _batches(world, "crm") - crm_before == math.ceil(to_crm / CRM_BATCH)
    assert await _batches(world, "erp") - erp_before == math.ceil(to_erp / ERP_BATCH)
    accounts = await _crm_rows(world, "accounts")
    customers = await _erp_rows(world, "customers")
    for index, coupling in enumerate(couplings):
        account, customer = accounts[coupling.crm_id], customers[coupling.erp_id]
        assert (account["telephone1"] or "") == customer["phoneNumber"]
        assert (account["websiteurl"] or "") == customer["website"]  # the CRM has null for ""
        if index % 3 != 1:
            assert customer["phoneNumber"] == f"+1 555 01{index:02d}"
        if index % 3 != 0:
            assert customer["website"] == f"https://example.com/{index}"
