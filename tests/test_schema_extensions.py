"""The schema's protective extensions on a small schema of their own: masking with a correlation
id that the log carries too, expected errors shown as they are, the cost limit."""

from __future__ import annotations

import logging

import pytest
import strawberry
from strawberry.extensions import AddValidationRules

from gateway.errors import InvalidInput
from schema.extensions import MAX_COST, CostLimit, MaskUnexpectedErrors


@strawberry.type
class Node:
    @strawberry.field
    def children(self, first: int = 10) -> list[Node]:
        return []

    name: str = "n"


@strawberry.type
class Query:
    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def bad(self) -> str:
        raise InvalidInput("quantity must be positive", field="quantity")

    @strawberry.field
    def nodes(self, first: int = 10) -> list[Node]:
        return [Node()]


SCHEMA = strawberry.Schema(
    query=Query, extensions=[MaskUnexpectedErrors, lambda: AddValidationRules([CostLimit])]
)


async def test_unexpected_errors_are_masked_with_a_logged_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        result = await SCHEMA.execute("{ boom }")
    assert result.errors
    message = result.errors[0].message
    assert "hunter2" not in message and "correlation id" in message
    correlation_id = result.errors[0].extensions["correlationId"]
    assert any(correlation_id in record.getMessage() for record in caplog.records)


async def test_expected_errors_are_shown() -> None:
    result = await SCHEMA.execute("{ bad }")
    assert result.errors and result.errors[0].message == "quantity must be positive"


async def test_cost_limit_multiplies_nested_pages() -> None:
    cheap = await SCHEMA.execute("{ nodes(first: 10) { name children(first: 10) { name } } }")
    assert not cheap.errors
    expensive = await SCHEMA.execute("{ nodes(first: 1000) { children(first: 1000) { name } } }")
    assert expensive.errors and "too expensive" in expensive.errors[0].message
    assert expensive.errors[0].extensions["maxCost"] == MAX_COST


async def test_cost_limit_follows_fragments_and_variables() -> None:
    query = """
    query Q($n: Int!) { nodes(first: $n) { ...F } }
    fragment F on Node { children(first: 300) { name children(first: 300) { name } } }
    """
    result = await SCHEMA.execute(query, variable_values={"n": 1})
    assert result.errors and "too expensive" in result.errors[0].message
