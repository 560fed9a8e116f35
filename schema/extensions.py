"""Schema extensions that protect the API: unexpected errors masked behind a correlation id that
the log also carries, introspection only for callers allowed it, and a cost limit driven by `first`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, SchemaExtension

from gateway.errors import InvalidInput, NotFound, NotSynchronized, PermissionDenied

log = logging.getLogger("gateway.graphql")

# NotSynchronized too: its message (what the sync has not read yet) is the useful answer, not a
# masked internal error with a traceback in the log.
EXPECTED_ERRORS = (InvalidInput, NotFound, PermissionDenied, NotSynchronized)
MAX_COST = 50_000
DEFAULT_PAGE = 50
MAX_PAGE = 200


class MaskUnexpectedErrors(MaskErrors):
    """Syntax, validation and expected domain errors reach the client as they are; anything else
    becomes 'internal error' with a correlation id, and the full exception goes to the log."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        correlation_id = uuid.uuid4().hex
        log.error(
            "unexpected GraphQL error [%s] at %s",
            correlation_id,
            ".".join(str(p) for p in error.path or ()),
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Internal error (correlation id {correlation_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "correlationId": correlation_id},
        )


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, *EXPECTED_ERRORS))


def log_errors(errors: list[GraphQLError]) -> None:
    """The schema's error log (instead of strawberry's, which logs every error at ERROR with its
    traceback): a client's mistake (syntax, validation, a bad variable, a bad cursor, an unknown
    record) is one INFO line; a resolver's unexpected failure is left to MaskUnexpectedErrors, which
    logs it with the correlation id the client sees; anything else unexpected is an ERROR with its
    traceback."""
    for error in errors:
        if not _is_unexpected(error):
            log.info("GraphQL request refused: %s", error.message)
        elif not error.path:
            log.error("GraphQL request failed: %s", error.message, exc_info=error.original_error)


class IntrospectionGate(SchemaExtension):
    """Introspection (`__schema`, `__type`) only when the context allows it (admin keys, demo)."""

    def on_operation(self) -> Iterator[None]:
        context: Any = self.execution_context.context
        if not getattr(context, "introspection_allowed", False):
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                NoSchemaIntrospectionCustomRule,
            )
        yield


class CostLimit(ASTValidationRule):
    """Rejects an operation whose estimated cost exceeds MAX_COST. Every field costs 1; a field with
    a `first` argument multiplies the cost of what it selects by that number (a variable counts as
    the maximum page size), so nested connections cannot fan out unchecked."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._fragments = {
            f.name.value: f for f in context.document.definitions if isinstance(f, FragmentDefinitionNode)
        }

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        cost = self._cost(node.selection_set, depth=0, seen=frozenset())
        if cost > MAX_COST:
            name = node.name.value if node.name else "anonymous"
            self.report_error(
                GraphQLError(
                    f"operation {name} is too expensive: estimated cost {cost} exceeds {MAX_COST};"
                    " ask for smaller pages (first) or fewer nested connections",
                    node,
                    extensions={"code": "COST_LIMIT", "cost": cost, "maxCost": MAX_COST},
                )
            )

    def _cost(self, selection_set: SelectionSetNode | None, *, depth: int, seen: frozenset[str]) -> int:
        if selection_set is None or depth > 50:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self._cost(selection.selection_set, depth=depth + 1, seen=seen)
                total += 1 + _page_size(selection) * inner
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, depth=depth + 1, seen=seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is not None and name not in seen:  # cycles are reported by another rule
                    total += self._cost(fragment.selection_set, depth=depth + 1, seen=seen | {name})
        return total


def _page_size(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value in {"first", "last"}:
            if isinstance(argument.value, IntValueNode):
                return max(1, int(argument.value.value))
            return MAX_PAGE
    return 1
