"""The API benchmark on a small scale, so it cannot rot: every answer is a 200 with the expected body,
and reads from the store or a warm cache make no upstream call. Counts only, never times."""

from __future__ import annotations

import pytest

from bench import api

pytestmark = pytest.mark.slow  # starts the demo and its simulators: dealt first (tests/xdist_scheduling.py)


def test_quick_run_answers_everything_without_upstream_calls_on_cached_reads() -> None:
    config = api.parse_args(["--quick", "--no-mesh"])
    assert (config.concurrencies, config.requests, config.mesh) == ((1, 10), 20, False)
    run = api.run_benchmark(config)
    assert run.failures() == []
    rows = {(r.scenario, r.concurrency): r for r in run.results}
    assert set(rows) == {(s, c) for s in (*api.CACHED, "availability 1 (miss)") for c in (1, 10)}
    for (scenario, concurrency), result in rows.items():
        assert result.target == "gateway"
        assert result.requests == 20, (scenario, concurrency, result.requests)
        assert dict(result.statuses) == {"200": 20} and result.wrong_answers == 0
        if scenario in api.CACHED:
            assert result.upstream_requests == 0, (scenario, concurrency)
        else:
            # A never-asked item is read live: at least one upstream request per answer.
            assert result.upstream_requests >= result.requests, (scenario, concurrency)
    report = api.format_report(run)
    assert "goal: no upstream call on the read path: met" in report
    assert "every request answered 200 with the expected body" in report
