"""What `gateway run --demo` prints: a sales key that would see nothing is said to."""

from __future__ import annotations

import pytest

from gateway.demo import DemoPlan, banner, plan_demo
from gateway.domain import Role

KEYS = {Role.ADMIN: "gw_admin", Role.SALES: "gw_sales", Role.APP: "gw_app"}


def _plan() -> DemoPlan:
    return plan_demo(
        host="127.0.0.1", port=8000, erp_port=8001, crm_port=8002, seed=42, customers=20, items=20
    )


@pytest.mark.parametrize("scope", ["all", "own"])
def test_the_banner_says_when_the_demo_sales_key_sees_no_customers(
    monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    # GATEWAY_SALES_SCOPE=own with the demo's sales key (no salesperson) listed no customer, silently.
    monkeypatch.setenv("GATEWAY_SALES_SCOPE", scope)
    text = banner(_plan(), KEYS)
    assert "  sales  gw_sales" in text
    warned = "the sales key above names no salesperson and sees no customers" in text
    assert warned is (scope == "own")
    assert ("gateway keys create --role sales --salesperson CODE" in text) is (scope == "own")
