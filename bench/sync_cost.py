"""bench/sync.py with each engine run's cost beside its requests: CPU seconds of the benchmark
process (`time.process_time`, which other processes' load hardly moves, unlike wall time), ORM
objects built (SQLAlchemy `load` events of mirror rows and couplings) and SQL statements sent, per
mapping-direction of each incremental round, written as JSON.

    nice .venv/bin/python bench/sync_cost.py --runs-json runs.json --customers 6000 --items 1500 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/EMPTY_DB

Every other argument goes to bench/sync.py unchanged (its report and exit status too). The JSON
holds the load average at start and end and one entry per `SyncEngine.run` in order: the rounds'
entries, polling mode first (the full sync does not go through `SyncEngine.run`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `gateway` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event
from sqlalchemy.engine import Engine

import bench.sync
from gateway.store.sync_tables import MirrorRecord
from gateway.store.tables import Coupling
from gateway.sync.engine import SyncEngine


class Costs:
    """Counters the SQLAlchemy events move, and one entry per engine run."""

    def __init__(self) -> None:
        self.built = 0
        self.statements = 0
        self.runs: list[dict[str, Any]] = []

    def object_built(self, *_args: Any) -> None:
        self.built += 1

    def statement_sent(self, *_args: Any) -> None:
        self.statements += 1


def install(costs: Costs) -> None:
    for model in (MirrorRecord, Coupling):
        event.listen(model, "load", costs.object_built)
    event.listen(Engine, "before_cursor_execute", costs.statement_sent)
    run = SyncEngine.run

    async def measured(self: SyncEngine, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        built, statements = costs.built, costs.statements
        summary = await run(self, *args, **kwargs)
        costs.runs.append(
            {
                "mapping": kwargs.get("mapping"),
                "direction": kwargs.get("direction"),
                "cpu_seconds": round(time.process_time() - cpu, 3),
                "wall_seconds": round(time.perf_counter() - wall, 3),
                "orm_objects_built": costs.built - built,
                "statements": costs.statements - statements,
                "counts": dict(summary.counts),
            }
        )
        return summary

    SyncEngine.run = measured  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--runs-json" not in args:
        raise SystemExit("usage: sync_cost.py --runs-json FILE [bench/sync.py arguments]")
    at = args.index("--runs-json")
    target = Path(args[at + 1])
    del args[at : at + 2]
    costs = Costs()
    install(costs)
    load_start = os.getloadavg()
    try:
        return bench.sync.main(args)
    finally:
        payload = {"load_start": load_start, "load_end": os.getloadavg(), "runs": costs.runs}
        target.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
