"""The sync benchmark on a small scale, so it cannot rot: the full sync reads every set at the
minimum, idle runs write nothing, and 100 changes arrive on the other side. Counts only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import sync

pytestmark = pytest.mark.slow  # two simulators and a full sync: dealt first (tests/xdist_scheduling.py)


def test_quick_run_reads_at_the_minimum_and_every_change_arrives(tmp_path: Path) -> None:
    out = tmp_path / "sync.json"
    code = sync.main(["--quick", "--json", str(out)])
    result: dict[str, Any] = json.loads(out.read_text())["result"]
    assert code == 0, result["problems"]
    assert result["problems"] == []
    usage = {u["service"]: u for u in result["usage"]}
    assert set(usage) == {"erp", "crm"}
    for u in usage.values():
        # With pages of 20,000 / 5,000 every set of the quick data fits one page: one GET per set.
        for entity_set, (rows, page, minimum, made) in u["sets_read"].items():
            assert rows <= page and minimum == 1, entity_set
            assert made == minimum, (u["service"], entity_set, made)
        assert u["reads"] == u["read_minimum"]
        assert u["operations"] > 0 and u["batches"] >= u["batch_minimum"] > 0
        assert set(u["statuses"]) == {"200"}
    assert {"customers", "priceListLines", "items"} <= set(usage["erp"]["sets_read"])
    assert {"accounts", "products"} <= set(usage["crm"]["sets_read"])
    # The company, resolved once per connector (ErpConnector.company() reuses it).
    assert usage["erp"]["other_detail"] == {"GET companies": 1}
    assert result["couplings"] > 500
    echo, idle, changed = result["rounds"]
    assert echo["writes"] == idle["writes"] == 0
    # Idle: one request per mapping-direction, but ERP PRICING (its 11 sets' reads in one $batch per
    # BC API: 2) and SALES ORDER while transferred orders await their fulfilled status (ERP poll: 2).
    idle_requests = {(r["mapping"], r["direction"]): r["requests"] for r in idle["runs"]}
    assert idle_requests.pop(("ERP PRICING", "erp_to_crm")) == 2
    assert idle_requests.pop(("SALES ORDER", "crm_to_erp")) <= 2
    assert set(idle_requests.values()) == {1}, idle_requests
    assert (result["changed"], result["arrived"]) == (100, 100)
    customer = {r["direction"]: r for r in changed["runs"] if r["mapping"] == "CUSTOMER"}
    # 50 edits each way: one read and one batch of 50 writes per direction.
    assert {d: (r["requests"], r["writes"]) for d, r in customer.items()} == {
        "erp_to_crm": (2, 1),
        "crm_to_erp": (2, 1),
    }
    assert changed["writes"] == 2
