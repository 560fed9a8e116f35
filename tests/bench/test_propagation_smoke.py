"""The propagation benchmark on a small scale, so it cannot rot: the demo subscribes to every ERP
entity set its mappings read, and every change made on either side arrives on the other. Counts only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import propagation

pytestmark = pytest.mark.slow  # starts the demo and its simulators: dealt first (tests/xdist_scheduling.py)


def test_two_changes_each_way_arrive_through_the_demo(tmp_path: Path) -> None:
    out = tmp_path / "propagation.json"
    code = propagation.main(
        ["--changes", "2", "--idle-seconds", "1", "--settle-seconds", "0", "--json", str(out)]
    )
    result: dict[str, Any] = json.loads(out.read_text())
    assert code == 0
    assert result["subscriptions"] == 9
    assert [(d["direction"], d["changes"], d["arrived"]) for d in result["directions"]] == [
        ("erp -> crm", 2, 2),
        ("crm -> erp", 2, 2),
    ]
    assert set(result["idle_requests_per_minute"]) == {"erp", "crm"}
    assert "goal: every change applied on the other side within 5 s" in propagation.report(result)
