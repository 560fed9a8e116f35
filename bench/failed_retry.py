"""What a CUSTOMER run that retries every failed record costs in the store: SQL statements and
seconds, against the number of failed records.

    .venv/bin/python bench/failed_retry.py --customers 2000 --break 300 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/<empty database>

Both simulators run in-process (no HTTP); the store is a fresh SQLite file or --database-url (an
empty database, migrated here). After a full sync of CUSTOMER and its dependencies, --break coupled
customers get salesperson RH, whom the demo data leaves without a CRM user (as do ~3% of its
customers): each run then fails on all of them. Every measured run forgets the retry backoff
(gateway.sync.retries), so it retries every failed record: those, the demo data's, the ambiguous
matches. Statements are counted with gateway.store.engine.count_queries (transaction control
excluded), so they do not depend on the machine's load; the seconds do.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.config import load_settings
from gateway.simulators import SimulatorOptions, create_crm_simulator, create_erp_simulator
from gateway.store import sync_state
from gateway.store.engine import count_queries, create_engine, session_factory
from gateway.store.migrate import upgrade_engine
from gateway.store.tables import CouplingState
from gateway.sync.catalog import ensure_default_mappings
from gateway.sync.engine import SyncEngine
from gateway.sync.full import FullSync
from gateway.upstream.factory import build_crm_connector, build_erp_connector
from gateway.upstream.transport import in_process_transport

ERP_ROOT, CRM_ROOT = "http://erp.sim", "http://crm.sim"
MAPPINGS = ["SALESPEOPLE", "CURRENCY", "PRICE LIST", "CUSTOMER"]


async def run(customers: int, broken: int, rounds: int, database_url: str) -> list[tuple[int, int, float]]:
    """(failed records, statements, seconds) of each measured run; progress is printed."""
    # The simulators' clock an hour behind ours: their stamps only ever grow (1 ms at least per
    # write), so the full sync's burst runs them ahead of the real time, and the customers broken just
    # before a run could fall after its signpost (utcnow()) and be read by the next run instead.
    options = SimulatorOptions(customers=customers, items=20, clock=lambda: time.time() - 3600)
    settings = load_settings(
        database_url=database_url,
        erp_base_url=ERP_ROOT,
        erp_tenant=options.tenant,
        erp_environment=options.environment,
        erp_token_url=f"{ERP_ROOT}/{options.tenant}/oauth2/v2.0/token",
        erp_client_id=options.client_id,
        erp_client_secret=options.client_secret,
        crm_base_url=CRM_ROOT,
        crm_token_url=f"{CRM_ROOT}/{options.tenant}/oauth2/v2.0/token",
        crm_client_id=options.client_id,
        crm_client_secret=options.client_secret,
    )
    erp = build_erp_connector(settings, transport=in_process_transport(create_erp_simulator(options)))
    crm = build_crm_connector(settings, transport=in_process_transport(create_crm_simulator(options)))
    db = create_engine(database_url)
    try:
        await upgrade_engine(db)
        sessions = session_factory(db)
        await ensure_default_mappings(sessions)
        engine = SyncEngine(sessions=sessions, erp=erp, crm=crm)
        started = time.perf_counter()
        await FullSync(engine).run(mappings=MAPPINGS)
        print(f"full sync of {', '.join(MAPPINGS)}: {time.perf_counter() - started:.1f} s")
        async with sessions() as session:
            pairs = await sync_state.mapping_couplings(session, mapping="CUSTOMER")
        healthy = sorted(
            (c for c in pairs if c.state == CouplingState.COUPLED.value), key=lambda c: c.erp_key or ""
        )
        for coupling in healthy[:broken]:
            await erp.update("customers", coupling.erp_id, {"salespersonCode": "RH"}, etag="*")
        await engine.run(mapping="CUSTOMER", direction="erp_to_crm")  # the broken ones fail once
        print(f"{min(broken, len(healthy))} coupled customers given salesperson RH")
        measured = []
        for _ in range(rounds):
            engine.retries.forget("CUSTOMER")
            with count_queries(db) as counter:
                started = time.perf_counter()
                summary = await engine.run(mapping="CUSTOMER", direction="erp_to_crm")
                seconds = time.perf_counter() - started
            measured.append((summary.counts["failed"], counter.count, seconds))
        return measured
    finally:
        await erp.aclose()
        await crm.aclose()
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--break", dest="broken", type=int, default=0, help="coupled customers to break")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a temp SQLite file)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'store.db'}"
        measured = asyncio.run(run(args.customers, args.broken, args.rounds, url))
    print("run  failed  statements  per failed  seconds")
    for n, (failed, statements, seconds) in enumerate(measured, start=1):
        per = statements / failed if failed else float("nan")
        print(f"{n:>3}  {failed:>6}  {statements:>10}  {per:>10.2f}  {seconds:>7.2f}")


if __name__ == "__main__":
    main()
