"""`build_schema()`: the one place the GraphQL schema is assembled, with its limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from schema.extensions import CostLimit, IntrospectionGate, MaskUnexpectedErrors
from schema.mutation import Mutation
from schema.query import Query

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # factories, so that every request gets fresh extension instances
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules([CostLimit]),
            IntrospectionGate,
            MaskUnexpectedErrors,
        ],
    )
