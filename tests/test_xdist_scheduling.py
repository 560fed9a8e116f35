"""How xdist workers deal the tests (tests/xdist_scheduling.py): `--dist loadgroup` really groups (the
scheduler finds a test's group only in the `@<group>` tag of the node id the worker reports, so a
grouped test must carry it there), and the tests marked slow come first."""

from __future__ import annotations

import pytest

from tests.xdist_scheduling import group_suffix

pytestmark = pytest.mark.xdist_group("xdist-groups")


def test_a_grouped_test_carries_its_group_in_its_node_id(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only a worker of `pytest -n N --dist loadgroup` tags node ids")
    assert request.node.nodeid.endswith("@xdist-groups"), request.node.nodeid


@pytest.mark.xdist_group("a-second-group")
def test_several_groups_join_in_sorted_order(request: pytest.FixtureRequest) -> None:
    assert group_suffix(request.node) == "@a-second-group_xdist-groups"


def test_slow_tests_are_dealt_first(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only a worker of `pytest -n N --dist loadgroup` reorders")
    slow = [item.get_closest_marker("slow") is not None for item in request.session.items]
    assert slow == sorted(slow, reverse=True), "a test marked slow comes after one that is not"
