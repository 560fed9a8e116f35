"""Parsed and validated documents are reused per query text, never across different rules: counted
with a rule that records each validation, and the introspection gate on the real schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import ValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter

from schema.build import MAX_TOKENS, build_schema
from schema.document_cache import CachedDocuments, Documents


class Counted(ValidationRule):
    runs = 0

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        Counted.runs += 1


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, text: str = "hi") -> str:
        return text


def _schema() -> strawberry.Schema:
    documents = Documents(maxsize=4)
    return strawberry.Schema(
        query=Query,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=20),
            lambda: AddValidationRules([Counted]),
            lambda: CachedDocuments(documents),
        ],
    )


async def test_one_query_text_is_validated_once_and_answers_stay_right() -> None:
    schema = _schema()
    Counted.runs = 0
    query = "query($t: String!) { echo(text: $t) }"
    for word in ("a", "b", "c"):
        result = await schema.execute(query, variable_values={"t": word})
        assert result.errors is None and result.data == {"echo": word}
    assert Counted.runs == 1
    assert (await schema.execute("{ echo }")).data == {"echo": "hi"}
    assert Counted.runs == 2


async def test_errors_are_still_reported_every_time() -> None:
    schema = _schema()
    for _ in range(2):
        syntax = await schema.execute("{ echo(")
        assert syntax.errors and "Syntax Error" in syntax.errors[0].message
        invalid = await schema.execute("{ nope }")
        assert invalid.errors and "nope" in invalid.errors[0].message
        too_long = await schema.execute("{ " + "echo " * 30 + "}")
        assert too_long.errors and "token" in too_long.errors[0].message.lower()


async def test_the_lru_is_bounded() -> None:
    schema = _schema()
    Counted.runs = 0
    for n in range(6):  # more distinct texts than the cache holds
        assert (await schema.execute(f'{{ echo(text: "{n}") }}')).data == {"echo": str(n)}
    assert (await schema.execute('{ echo(text: "0") }')).data == {"echo": "0"}
    assert Counted.runs == 7  # "0" was evicted, so it is validated again


@dataclass
class Caller:
    introspection_allowed: bool


async def test_introspection_gate_is_not_bypassed_by_a_cached_result() -> None:
    schema = build_schema()
    query = "{ __schema { queryType { name } } }"
    for allowed in (False, True, False, True):
        result = await schema.execute(query, context_value=Caller(allowed))
        if allowed:
            assert result.errors is None and result.data == {"__schema": {"queryType": {"name": "Query"}}}
        else:
            assert result.errors and "introspection" in result.errors[0].message.lower()


async def test_the_real_schema_keeps_its_token_limit() -> None:
    schema = build_schema()
    query = "{ " + "currencies { code } " * (MAX_TOKENS // 4) + "}"
    for _ in range(2):
        result = await schema.execute(query, context_value=Caller(True))
        assert result.errors and "token" in result.errors[0].message.lower()
