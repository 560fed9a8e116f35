"""The read benchmark on a small scale, so it cannot rot: requests equal ⌈rows / page size⌉ without
faults, and every record arrives exactly once with them. Counts only, never timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import read_throughput

ROWS = 2_000
MINIMUM = {"erp": 8, "crm": 20}  # 2,000 rows in pages of 250 and of 100 (the --quick sizes)


def run(tmp_path: Path, *extra: str) -> list[dict[str, Any]]:
    out = tmp_path / "results.json"
    code = read_throughput.main(["--quick", "--json", str(out), *extra])
    results: list[dict[str, Any]] = json.loads(out.read_text())["results"]
    assert code == 0, [r for r in results if not r["ok"]]
    return results


def check(results: list[dict[str, Any]], kinds: set[str], services: tuple[str, ...] = ("crm", "erp")) -> None:
    assert sorted((r["service"], r["faults"]) for r in results) == [
        (service, faults) for service in services for faults in (False, True)
    ]
    seen: set[str] = set()
    for r in results:
        minimum = MINIMUM[r["service"]]
        assert r["minimum"] == minimum
        assert (r["records"], r["unique_ids"]) == (ROWS, ROWS)
        assert r["error"] is None
        assert not r["empty_last_page"]
        if not r["faults"]:
            assert r["read_requests"] == r["client_requests"] == minimum
            assert r["client_retries"] == 0
            assert r["statuses"] == {"200": minimum}
        else:
            injected = sum(r["injected"].values())
            assert injected > 0  # the fault run must really have met faults
            assert r["client_retries"] == injected
            assert r["client_requests"] == minimum + injected
            seen |= set(r["injected"])
        assert r["token_requests"] == 1
    assert seen == kinds


def test_quick_run_reads_at_the_minimum_and_exactly_once_under_faults(tmp_path: Path) -> None:
    results = run(tmp_path)
    check(results, {"429", "503", "drop"})
    for r in results:
        if r["faults"]:
            # Over real sockets the server counts every attempt: each fault once, each page once.
            statuses = r["statuses"]
            assert statuses["200"] == MINIMUM[r["service"]]
            assert r["read_requests"] == r["client_requests"]
            assert statuses.get("dropped", 0) == r["injected"].get("drop", 0)


@pytest.mark.slow
def test_client_timeouts_are_retried_exactly_once(tmp_path: Path) -> None:
    # With seed 313 the CRM run meets each of the four kinds once; the timeout costs 2 s.
    options = [
        "--kinds",
        "429,503,drop,timeout",
        "--fault-seed",
        "313",
        "--timeout",
        "2",
        "--fault-hold",
        "3",
    ]
    results = run(tmp_path, "--services", "crm", *options)
    check(results, {"429", "503", "drop", "timeout"}, services=("crm",))
