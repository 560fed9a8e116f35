"""The GraphQL executor: strawberry's, with a short path for scalar fields read straight off their
parent (`number`, `name`, `code` …), which are most of the fields a page of records resolves.

For every field graphql-core builds a path entry, a `GraphQLResolveInfo`, an argument dict, calls the
resolver, checks whether the result is awaitable and walks the non-null wrapper before it coerces
the value; for an attribute that is a scalar that machinery costs several times the `getattr`. A
field qualifies when `schema.direct_resolvers` gave it an attribute resolver and its type is a
scalar or enum (nullable or not) and the query passes it no arguments. Anything unusual, a missing
attribute, a null, a value the scalar refuses, goes through graphql-core's own path, so errors and
their paths are exactly graphql-core's.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLField, GraphQLObjectType, Undefined
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.direct_resolvers import leaf_attribute


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        # strawberry always passes a manager; only one holding a middleware (an extension with a
        # `resolve` hook) must see every field
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        get_field = self.schema.get_field
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                field_def: GraphQLField | None = get_field(parent_type, node.name.value)
                if field_def is None:
                    continue
                if not node.arguments:
                    leaf = leaf_attribute(field_def)
                    if leaf is not None:
                        value = _read_leaf(source_value, *leaf)
                        if value is not Undefined:
                            results[response_name] = value
                            continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                # as graphql-core does: awaitables other fields started may fail too
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather(results, awaitable_fields)

    async def _gather(self, results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        # graphql-core's get_results(), which is local to its execute_fields
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
            return results
        awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
        return results


def _read_leaf(source: Any, attribute: str, leaf_type: Any) -> Any:
    """The coerced value, or Undefined when graphql-core's own path should handle the field."""
    try:
        value = getattr(source, attribute)
        if value is None:  # null handling (and the non-null error) is graphql-core's
            return Undefined
        coerced = leaf_type.coerce_output_value(value)
    except Exception:  # reported by graphql-core's path, with the field's location
        return Undefined
    if coerced is None:
        return Undefined
    return coerced
