"""The run-memory benchmark on a small scale, so it cannot rot: a full run loads every pair, an
incremental one the pairs in scope plus the uncoupled records. Row counts only; the MiB it prints
are not asserted."""

from __future__ import annotations

import re

from bench import run_memory


async def test_run_memory_counts_what_each_run_loads() -> None:
    lines = await run_memory.run(["--customers", "300", "--uncoupled", "3", "--changes", "1", "20"])
    assert re.match(r"full run: 300 couplings \+ 303 ERP \+ 303 CRM rows hold [\d.]+ MiB$", lines[0]), lines
    # One side: the changed records and the 3 uncoupled; the other: their partners and its 3.
    assert re.match(r"incremental run, 1 changed: 1 couplings \+ 8 rows hold \d+ KiB$", lines[1]), lines
    assert re.match(r"incremental run, 20 changed: 20 couplings \+ 46 rows hold \d+ KiB$", lines[2]), lines
