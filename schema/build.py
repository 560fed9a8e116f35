"""`build_schema()`: the one place the GraphQL schema is assembled, with its limits."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from schema.direct_resolvers import install_direct_resolvers
from schema.document_cache import CachedDocuments, Documents
from schema.executor import GatewayExecutor
from schema.extensions import CostLimit, IntrospectionGate, MaskUnexpectedErrors, log_errors
from schema.mutation import Mutation
from schema.query import Query

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000


class GatewaySchema(strawberry.Schema):
    """The schema with our error log: a client's mistake is not an ERROR with a traceback."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        log_errors(errors)


def build_schema() -> strawberry.Schema:
    # The limit rules are made once: the same rule classes on every request are what lets a
    # validation result be reused (the limiters would make new classes per instance).
    limits = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
        CostLimit,
    ]
    documents = Documents()
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=GatewayExecutor,
        extensions=[
            # factories, so that every request gets fresh extension instances
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules(limits),
            IntrospectionGate,
            MaskUnexpectedErrors,
            lambda: CachedDocuments(documents),  # last: the others' rules and options are its keys
        ],
    )
    install_direct_resolvers(schema)
    return schema
