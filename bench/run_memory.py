"""Memory a sync run of one mapping holds from the store: a full run loads every coupling and both
mirror sides; an incremental run loads the couplings of the records in scope, those records, their
partners and the uncoupled records (gateway.sync.reconciling `_reconcile_changes`).

    .venv/bin/python bench/run_memory.py                 # 20,000 coupled customers, 1 and 100 changes
    .venv/bin/python bench/run_memory.py --customers 5000 --uncoupled 50

A temporary SQLite store is filled with N coupled CUSTOMER pairs (14 mapped fields per side on the
mirror rows and in each coupling's last-synced values, like the engine writes), plus --uncoupled
records per side. The figures are Python heap bytes (tracemalloc) held by the loaded rows, measured
with the store functions the engine calls; the upstream side and the reconciling itself are not part
of it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.domain import Side, UpstreamRecord
from gateway.store import mirror, sync_state
from gateway.store.engine import SessionFactory, create_engine, session_factory
from gateway.store.migrate import upgrade_engine
from gateway.store.tables import Coupling

FIELDS = (
    "number",
    "displayName",
    "addressLine1",
    "addressLine2",
    "city",
    "state",
    "country",
    "postalCode",
    "phoneNumber",
    "email",
    "website",
    "salespersonCode",
    "creditLimit",
    "currencyCode",
)
MAPPING = "CUSTOMER"


async def _fill(sessions: SessionFactory, customers: int, uncoupled: int) -> list[str]:
    now = datetime.now(UTC)
    erp_ids: list[str] = []
    for start in range(0, customers + uncoupled, 2000):
        erp, crm = [], []
        async with sessions.begin() as session:
            for i in range(start, min(customers + uncoupled, start + 2000)):
                erp_id, crm_id = str(uuid.uuid4()), str(uuid.uuid4())
                values = {f: f"{f}-{i:06d}-value" for f in FIELDS}
                crm_values = {f.lower(): v for f, v in values.items()}
                erp.append(UpstreamRecord("customers", erp_id, values, 'W/"1"', now))
                crm.append(UpstreamRecord("accounts", crm_id, crm_values, 'W/"1"', now))
                if i < customers:
                    erp_ids.append(erp_id)
                    session.add(
                        Coupling(
                            mapping=MAPPING,
                            erp_id=erp_id,
                            crm_id=crm_id,
                            erp_key=values["number"],
                            crm_key=values["number"],
                            last_synced={"erp": values, "crm": crm_values},
                            updated_at=now,
                        )
                    )
            await mirror.upsert_records(session, side=Side.ERP, entity_set="customers", records=erp)
            await mirror.upsert_records(session, side=Side.CRM, entity_set="accounts", records=crm)
    return erp_ids


async def _held(load: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """MiB still allocated once `load` returned (its result alive), and the result."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = await load()
    held = (tracemalloc.get_traced_memory()[0] - before) / 2**20
    tracemalloc.stop()
    return held, result


async def run(argv: list[str] | None = None) -> list[str]:
    """The figures, one line each (also printed)."""
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--uncoupled", type=int, default=0, help="uncoupled records per side")
    parser.add_argument("--changes", type=int, nargs="*", default=[1, 100])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'store.db'}")
        try:
            await upgrade_engine(engine)
            sessions = session_factory(engine)
            erp_ids = await _fill(sessions, args.customers, args.uncoupled)

            async def full() -> Any:
                async with sessions() as session:
                    return (
                        await sync_state.mapping_couplings(session, mapping=MAPPING),
                        await mirror.load_records(session, side=Side.ERP, entity_set="customers"),
                        await mirror.load_records(session, side=Side.CRM, entity_set="accounts"),
                    )

            held, (couplings, erp, crm) = await _held(full)
            say(
                f"full run: {len(couplings):,} couplings + {len(erp):,} ERP + {len(crm):,} CRM rows "
                f"hold {held:.1f} MiB"
            )
            del couplings, erp, crm
            for changes in args.changes:
                scope = set(erp_ids[:changes])

                async def incremental(scope: set[str] = scope) -> Any:
                    async with sessions() as session:
                        touched = await sync_state.couplings_touching(
                            session, mapping=MAPPING, erp_ids=scope, crm_ids=()
                        )
                        loaded = []
                        for side, entity, partners in (
                            (Side.ERP, "customers", scope),
                            (Side.CRM, "accounts", {c.crm_id for c in touched}),
                        ):
                            free = await sync_state.uncoupled_records(
                                session, mapping=MAPPING, side=side, entity_set=entity
                            )
                            ids = partners - free.keys()
                            loaded.append(
                                free
                                | await mirror.load_records(session, side=side, entity_set=entity, ids=ids)
                            )
                        return touched, loaded

                held, (touched, loaded) = await _held(incremental)
                rows = sum(len(side) for side in loaded)
                say(
                    f"incremental run, {changes} changed: {len(touched)} couplings + {rows:,} rows "
                    f"hold {held * 1024:.0f} KiB"
                )
        finally:
            await engine.dispose()
    return lines


if __name__ == "__main__":
    asyncio.run(run())
