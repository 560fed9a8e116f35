"""Edges make their cursor only when it is read, once."""

from __future__ import annotations

from gateway.services.paging import Edge


def test_a_cursor_is_made_when_first_read_and_kept() -> None:
    made: list[str] = []

    def make() -> str:
        made.append("c1")
        return "c1"

    edge = Edge(make, node="n1")
    assert made == [] and edge.node == "n1"
    assert edge.cursor == "c1" and edge.cursor == "c1"
    assert made == ["c1"]
    assert Edge("c2", node="n2").cursor == "c2"
    assert repr(Edge("c3", node=1)) == "Edge(cursor='c3', node=1)"
