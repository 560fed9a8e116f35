"""The failed-record retry benchmark on a small scale, so it cannot rot: every measured run retries
the same failed records, in fewer statements than there are records. Seconds are not asserted."""

from __future__ import annotations

from pathlib import Path

from bench import failed_retry


async def test_failed_retry_counts_statements_of_each_retry(tmp_path: Path) -> None:
    measured = await failed_retry.run(200, 80, 2, f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    (failed, statements, _), (again, statements_again, _) = measured
    assert failed == again > 80  # the 80 broken customers, the demo data's and the ambiguous ones
    assert statements == statements_again < failed
