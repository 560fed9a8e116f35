"""The sync benchmark on a small scale, so it cannot rot: the full sync reads every set at the
minimum, idle runs write nothing, and 100 changes arrive on the other side, in polling mode and with
BC webhook subscriptions in place (the designed mode: one request per mapping-direction when idle,
the ERP edits notified to the gateway's receiver). Counts only."""

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
    names = {
        ("polling", "first"): "first incremental (sees the full sync's own writes)",
        ("polling", "idle"): "idle incremental (nothing changed)",
        ("polling", "incremental"): "incremental after 100 changes",
        ("webhooks", "first"): "first incremental with subscriptions (sees the previous round's writes)",
        ("webhooks", "idle"): "idle incremental (nothing changed)",
        ("webhooks", "incremental"): "incremental after 100 changes",
        ("webhooks", "gated"): "incremental after a BC shipment and a renamed unit",
    }
    assert [(r["mode"], r["name"]) for r in result["rounds"]] == [(k[0], n) for k, n in names.items()]
    rounds = dict(zip(names, result["rounds"], strict=True))
    for key in (("polling", "first"), ("polling", "idle"), ("webhooks", "first"), ("webhooks", "idle")):
        assert rounds[key]["writes"] == 0, key
    # Polling only: one request per mapping-direction, but ERP PRICING (its 11 sets' reads in one $batch
    # per BC API: 2) and SALES ORDER while transferred orders await their fulfilled status (ERP poll: 2).
    idle_requests = {
        (r["mapping"], r["direction"]): r["requests"] for r in rounds[("polling", "idle")]["runs"]
    }
    assert idle_requests.pop(("ERP PRICING", "erp_to_crm")) == 2
    assert idle_requests.pop(("SALES ORDER", "crm_to_erp")) <= 2
    assert set(idle_requests.values()) == {1}, idle_requests
    assert len(result["notes"]) >= 1 and all(n.startswith("polling mode") for n in result["notes"])
    # BC webhooks: every mapping-direction one request (BC notifies the standard-API pricing sets and
    # the ERP orders, so those polls wait for a notification or the 5-minute fallback).
    webhook_idle = rounds[("webhooks", "idle")]
    assert {r["requests"] for r in webhook_idle["runs"]} == {1}, webhook_idle["runs"]
    assert webhook_idle["notifications"]["notifications"] == 0
    assert not any(g.startswith("webhooks") for g in result["goals_missed"]), result["goals_missed"]
    mode = result["webhook_mode"]
    # The scheduler's other idle work: deletion checks (none asked for: no request) and the next
    # subscription pass (nothing to change: the listing only).
    assert set(mode["idle_deletion_checks"].values()) == {0}, mode["idle_deletion_checks"]
    assert mode["idle_pass_requests"] == {"erp GET subscriptions": 1}
    # One subscription per ERP set read towards the CRM, each handshake answered by our receiver;
    # the pass: one listing and one POST per subscription.
    assert len(mode["subscribed"]) >= 9 and any(r.endswith("/salesOrders") for r in mode["subscribed"])
    assert mode["subscribe_requests"] == {
        "erp GET subscriptions": 1,
        "erp POST subscriptions": len(mode["subscribed"]),
    }
    assert mode["notifications"]["subscribing"]["handshakes"] == len(mode["subscribed"])
    # Each set read towards the CRM is checked for deletions once (one page of ids at this size).
    assert set(mode["deletion_checks"].values()) == {1} and "customers" in mode["deletion_checks"]
    assert (result["changed"], result["arrived"]) == (100, 100)
    assert (mode["changed"], mode["arrived"], mode["notified_edits"]) == (100, 100, 50)
    for changed in (rounds[("polling", "incremental")], rounds[("webhooks", "incremental")]):
        customer = {r["direction"]: r for r in changed["runs"] if r["mapping"] == "CUSTOMER"}
        # 50 edits each way: one read and one batch of 50 writes per direction.
        assert {d: (r["requests"], r["writes"]) for d, r in customer.items()} == {
            "erp_to_crm": (2, 1),
            "crm_to_erp": (2, 1),
        }
        assert changed["writes"] == 2
    # The 50 ERP edits reached the receiver as 50 notifications, which woke CUSTOMER erp_to_crm; the
    # round's own 50 writes into BC customers come back the same way afterwards.
    notified = rounds[("webhooks", "incremental")]["notifications"]
    assert notified["by_set"] == {"customers updated": 50} and notified["refused"] == 0
    assert notified["woken"] == {"CUSTOMER erp_to_crm": 1}
    assert mode["notifications"]["after the round with changes (its own writes)"]["by_set"] == {
        "customers updated": 50
    }
    # A shipment and a renamed unit, in the sets whose polls wait for BC: notified, they wake SALES
    # ORDER and ERP PRICING, whose next runs poll those sets once and carry the changes over.
    gated = rounds[("webhooks", "gated")]
    assert {"salesOrders updated", "unitsOfMeasure updated"} <= set(gated["notifications"]["by_set"])
    assert {"SALES ORDER crm_to_erp", "ERP PRICING erp_to_crm"} <= set(gated["notifications"]["woken"])
    runs = {(r["mapping"], r["direction"]): r for r in gated["runs"]}
    assert runs[("ERP PRICING", "erp_to_crm")]["detail"] == {"erp POST $batch of GETs": 2}
    assert runs[("SALES ORDER", "crm_to_erp")]["detail"]["erp GET salesOrders"] == 1
    assert (mode["gated_changes"], mode["gated_arrived"]) == (2, 2)
