"""Each distinct GraphQL query text is parsed and validated once per schema, not once per request:
clients send the same few operations over and over, and validation walks the whole document once
per rule (about half of a 50-customer page's CPU before this cache, bench/profile_read.py).

The validation result is keyed by the query text, the parse options and the exact rules in force
for the request, so a caller whose context adds a rule (IntrospectionGate) gets its own entry.
Both caches are bounded LRUs: unique query texts cannot grow memory without limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ParseOptions

MAX_DOCUMENTS = 256

Rules = tuple[type[ASTValidationRule], ...]
ParseKey = tuple[str, int | None]
"""(query text, max_tokens): strawberry's parse options are exactly max_tokens (MaxTokensLimiter)."""


class Documents:
    """The process's parsed documents and validation results for one schema."""

    def __init__(self, maxsize: int = MAX_DOCUMENTS) -> None:
        self.parse = lru_cache(maxsize=maxsize)(self._parse)
        self._validate = lru_cache(maxsize=maxsize)(self._validated)

    @staticmethod
    def _parse(key: ParseKey) -> DocumentNode:
        query, max_tokens = key
        return parse(query, max_tokens=max_tokens)

    def _validated(self, schema: GraphQLSchema, key: ParseKey, rules: Rules) -> tuple[GraphQLError, ...]:
        return tuple(validate_document(schema, self.parse(key), rules))

    def validate(self, schema: GraphQLSchema, key: ParseKey, rules: Rules) -> list[GraphQLError]:
        return list(self._validate(schema, key, rules))


def parse_key(query: str, options: ParseOptions) -> ParseKey:
    return query, options.get("max_tokens")


class CachedDocuments(SchemaExtension):
    """Put last among the extensions: the rules and parse options the others set in
    `on_operation` are part of the keys."""

    def __init__(self, documents: Documents) -> None:
        self._documents = documents
        self._key: ParseKey | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            key = parse_key(context.query, context.parse_options)
            try:
                context.graphql_document = self._documents.parse(key)
                self._key = key
            except GraphQLError:
                pass  # not cached: strawberry parses again and reports the syntax error itself
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._key is not None and context.pre_execution_errors is None:
            rules = tuple(context.validation_rules)
            context.pre_execution_errors = self._documents.validate(context.schema._schema, self._key, rules)
        yield
