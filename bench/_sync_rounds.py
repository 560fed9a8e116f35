"""The benchmark's incremental rounds: every schedule entry once with the requests it made, and the
100 changes (phone numbers edited on either side) whose arrival the last round must show."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlmodel import select

from bench._sync_meter import MeteredTransport
from bench._sync_model import EntryRun, Round
from bench._sync_servers import SyncTarget
from bench._sync_usage import diff, stats, writes_outside_batches
from gateway.domain import Side
from gateway.store import mirror, sync_state
from gateway.store.tables import Coupling, CouplingState
from gateway.sync.engine import SyncEngine
from gateway.sync.orders import OPEN
from gateway.upstream.crm import CrmConnector
from gateway.upstream.erp import ErpConnector


async def run_round(
    name: str,
    engine: SyncEngine,
    entries: Sequence[tuple[str, str, float]],
    targets: dict[str, SyncTarget],
    meters: dict[str, MeteredTransport],
    *,
    mode: str = "polling",
) -> Round:
    """Every schedule entry once, one after the other, so each entry's requests are its own."""
    runs = []
    for mapping, direction, _interval in entries:
        before = await stats(targets)
        batches_before = {s: (m.read_batches, m.write_batches) for s, m in meters.items()}
        t0 = time.perf_counter()
        summary = await engine.run(mapping=mapping, direction=direction)
        seconds = time.perf_counter() - t0
        made = diff(await stats(targets), before)
        detail: Counter[str] = Counter()
        writes = 0
        for service, counts in made.items():
            read_batches = meters[service].read_batches - batches_before[service][0]
            writes += meters[service].write_batches - batches_before[service][1]
            writes += writes_outside_batches(counts)
            for (method, entity_set, _status), n in counts.items():
                detail[f"{service} {method} {entity_set}"] += n
            if read_batches:  # a $batch of GETs is a read
                detail[f"{service} POST $batch"] -= read_batches
                detail[f"{service} POST $batch of GETs"] += read_batches
        runs.append(
            EntryRun(
                mapping=mapping,
                direction=direction,
                requests=sum(sum(c.values()) for c in made.values()),
                writes=writes,
                seconds=seconds,
                detail={k: v for k, v in sorted(detail.items()) if v},
                status=summary.status,
                counts=dict(summary.counts),
            )
        )
    # The round's time is the engine's: the /_sim/stats calls between entries are left out.
    return Round(name=name, seconds=sum(r.seconds for r in runs), runs=runs, mode=mode)


PHONE_FIELDS = {"erp": "phoneNumber", "crm": "telephone1"}


async def change_customers(
    *, sessions: Any, editors: tuple[ErpConnector, CrmConnector], count: int, series: int = 0
) -> list[tuple[str, str, str, str]]:
    """Edit `count` coupled customers' phone numbers with PATCH + If-Match (the record's ETag): half
    on the ERP, half on the CRM; a later `series` (0-4) gives the same customers other numbers.
    Returns (edited side, erp id, crm id, new phone)."""
    erp, crm = editors
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Coupling).where(
                    Coupling.mapping == "CUSTOMER",
                    Coupling.state == CouplingState.COUPLED.value,
                    Coupling.skipped == False,  # noqa: E712
                )
            )
        ).all()
    chosen = sorted(rows, key=lambda c: c.erp_key or "")[:count]
    edits = []
    for index, coupling in enumerate(chosen):
        assert coupling.erp_id is not None and coupling.crm_id is not None
        if index % 2 == 0:
            phone = f"+1 55{5 + series} {index:04d}"
            record = await erp.get("customers", coupling.erp_id)
            await erp.update("customers", coupling.erp_id, {"phoneNumber": phone}, etag=record.etag or "*")
            edits.append(("erp", coupling.erp_id, coupling.crm_id, phone))
        else:
            phone = f"+44 2{series} {index:04d}"
            account = await crm.get("accounts", coupling.crm_id)
            await crm.update("accounts", coupling.crm_id, {"telephone1": phone}, etag=account.etag or "*")
            edits.append(("crm", coupling.erp_id, coupling.crm_id, phone))
    return edits


async def arrived(
    edits: list[tuple[str, str, str, str]], editors: tuple[ErpConnector, CrmConnector]
) -> list[str]:
    """The edits whose other side does not carry the new phone number."""
    erp, crm = editors
    missing = []
    for side, erp_id, crm_id, phone in edits:
        if side == "erp":
            other = (await crm.get("accounts", crm_id)).values.get("telephone1")
        else:
            other = (await erp.get("customers", erp_id)).values.get("phoneNumber")
        if other != phone:
            missing.append(f"{side} edit {phone!r} of customer {erp_id}: the other side has {other!r}")
    return missing


async def change_gated_sets(
    *, sessions: Any, erp: ErpConnector, target: SyncTarget
) -> tuple[list[tuple[str, str]], list[str]]:
    """Changes in the ERP sets whose polls wait for BC's notifications (gateway.sync.erp_polls): one
    transferred sales order shipped in BC (its fulfilled status must reach the CRM order), one unit of
    measure renamed in BC's standard API (ERP PRICING's mirror must carry the new name). Returns the
    ((crm order id, erp order id)) shipped and the ids of the units renamed."""
    async with sessions() as session:
        transferred = await sync_state.mapping_couplings(session, mapping="SALES ORDER")
        orders = await mirror.load_records(
            session, side=Side.CRM, entity_set="salesorders", ids=[c.crm_id for c in transferred if c.crm_id]
        )
    open_orders = [
        (c.crm_id, c.erp_id)
        for c in transferred
        if c.crm_id and c.erp_id and orders.get(c.crm_id) and orders[c.crm_id].values.get("statecode") in OPEN
    ]
    shipped = open_orders[:1]
    for _crm_id, erp_id in shipped:
        await target.target.control("ship", {"orderId": erp_id})
    units = [u async for page in erp.pages("unitsOfMeasure") for u in page][:1]
    for unit in units:
        name = f"{unit.values.get('displayName')} (renamed)"
        await erp.update("unitsOfMeasure", unit.id, {"displayName": name}, etag=unit.etag or "*")
    return shipped, [u.id for u in units]


async def gated_arrived(
    *, sessions: Any, crm: CrmConnector, shipped: list[tuple[str, str]], units: list[str]
) -> list[str]:
    """What of `change_gated_sets` did not arrive: a shipped order whose CRM order is still open, a
    renamed unit the mirror does not carry renamed."""
    missing = []
    for crm_id, erp_id in shipped:
        state = (await crm.get("salesorders", crm_id)).values.get("statecode")
        if state in OPEN:
            missing.append(f"order {erp_id} shipped in BC: its CRM order is still open (statecode {state})")
    async with sessions() as session:
        mirrored = await mirror.load_records(session, side=Side.ERP, entity_set="unitsOfMeasure", ids=units)
    for unit_id in units:
        name = str(mirrored[unit_id].values.get("displayName")) if unit_id in mirrored else None
        if name is None or not name.endswith("(renamed)"):
            missing.append(f"unit of measure {unit_id} renamed in BC: the mirror has {name!r}")
    return missing
