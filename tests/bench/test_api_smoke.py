"""The API benchmark on a small scale, so it cannot rot: every answer is a 200 with the expected body,
and reads from the store or a warm cache make no upstream call. Counts only, never times."""

from __future__ import annotations

import pytest

from bench import api
from bench._api_load import LoadResult

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


def _row(target: str, concurrency: int, latencies: list[float], seconds: float) -> LoadResult:
    row = LoadResult(scenario="graphql customers", target=target, concurrency=concurrency)
    row.latencies = latencies
    row.statuses["200"] = len(latencies)
    row.seconds = seconds
    return row


@pytest.mark.parametrize(
    ("worst", "met"), [(0.5, True), (0.9, False)], ids=["p99 lower", "p99 higher than Mesh's"]
)
def test_faster_than_mesh_needs_the_lower_p99_too(worst: float, met: bool) -> None:
    """The gateway's p50 and req/s beat Mesh's in both; in the second its slowest 1 % do not."""
    ours = [0.1] * 98 + [worst] * 2  # nearest rank: the p99 of 100 is the 99th
    theirs = [0.2] * 98 + [0.8] * 2
    run = api.BenchRun(config=api.BenchConfig(concurrencies=(50,)))
    run.results = [_row("gateway", 50, ours, 1.0), _row("mesh", 50, theirs, 2.0)]
    verdict = "met" if met else "NOT met"
    assert f"goal: unified read faster than Mesh at every concurrency (p50, p99 and req/s): {verdict}" in (
        api._goals(run)
    )


def test_a_goal_whose_rows_were_left_out_is_not_measured_rather_than_not_met() -> None:
    run = api.BenchRun(config=api.BenchConfig(concurrencies=(50,)))
    run.results = [_row("gateway", 50, [0.1] * 100, 1.0)]  # `--scenario "graphql customers"`
    goals = api._goals(run)
    assert "goal: cached availability p99 < 5 ms: not measured" in goals
    assert not any("cached availability p99 < 5 ms: NOT met" in goal for goal in goals)
