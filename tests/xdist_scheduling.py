"""How `make test` deals tests to its xdist workers: groups kept together, long tests dealt first.

`--dist loadgroup` groups again: pytest-xdist 3.8 tags a test of an `xdist_group` by appending
`@<group>` to `item._nodeid`, which pytest 9.2 no longer reads (node ids became structured, kept in
`item._id`; pytest-dev/pytest-xdist#1386, open). Without the tag the scheduler sees no group: every
grouped test is dealt out on its own, both workers start the session servers of the mesh and contract
suites, and both build the crash test's world and its reference run.

This hook, run in each worker after xdist's own, writes the same tag where pytest 9.2 reads it, as
pytest itself stores a node id a plugin passes as a string. It does nothing when the tag is already
there (an xdist that handles structured ids) or when the run is not `--dist loadgroup`.

Long tests first: the scheduler deals the groups first (largest first), then single tests in
collection order, each to whichever worker runs short of work. A long single test dealt last keeps
one worker busy while the other has finished (schemathesis, in tests/web, was among the last). Tests
marked `slow` therefore come first among the single tests; the order within each kind is kept, and
only the order of xdist workers changes (a run without xdist keeps pytest's own order, which keeps a
module's tests together for its module-scoped fixtures).
"""

from __future__ import annotations

import os

import pytest


def group_suffix(item: pytest.Item) -> str | None:
    """`@<group>` as xdist builds it (several groups joined in sorted order), or None without one."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return f"@{'_'.join(sorted(names))}" if names else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # In a worker xdist has set `dist` to "no" and kept the choice in `loadgroup`.
    if "PYTEST_XDIST_WORKER" not in os.environ or not getattr(config.option, "loadgroup", False):
        return
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: slow ones first
    for item in items:
        suffix = group_suffix(item)
        if suffix is None or item.nodeid.endswith(suffix):
            continue
        node_id = getattr(item, "_id", None)
        if node_id is None or not hasattr(type(node_id), "parse"):
            continue  # an older pytest: xdist's own `_nodeid` tag already took effect
        item._id = type(node_id).parse(f"{item.nodeid}{suffix}")  # type: ignore[attr-defined]
