"""``$filter`` compiled to a SQLAlchemy clause by odata-query, restricted to the model's properties.

odata-query parses; we only adapt literals (GUID case, UTC datetimes) and escape LIKE wildcards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from odata_query import ast
from odata_query import exceptions as odata_ex
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.sqlalchemy.core import AstToSqlAlchemyCoreVisitor

from .errors import ODataError
from .model import EntitySet


class _Visitor(AstToSqlAlchemyCoreVisitor):
    def __init__(self, table: sa.Table, entity_set: EntitySet) -> None:
        # odata-query annotates the table as a type; it is used as an instance.
        super().__init__(table)  # type: ignore[arg-type]
        self._table = table
        self._entity_set = entity_set

    def visit_Identifier(self, node: ast.Identifier) -> Any:
        # Hidden columns (company, row version) exist in the table but not in the model.
        if node.namespace or self._entity_set.prop(node.name) is None:
            raise odata_ex.InvalidFieldException(node.name)
        return self._table.c[node.name]

    def visit_GUID(self, node: ast.GUID) -> Any:
        return sa.literal(node.val.lower(), sa.String)

    def visit_DateTime(self, node: ast.DateTime) -> Any:
        try:
            value: datetime = node.py_val
        except ValueError as exc:
            raise odata_ex.ValueException(node.val) from exc
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return sa.literal(value, sa.DateTime)

    def _substr_function(self, field: ast._Node, substr: ast._Node, func: str) -> Any:
        # odata-query passes the literal as-is, so '%' or '_' in user text would act as wildcards.
        if not isinstance(substr, ast.String):
            raise odata_ex.ArgumentTypeException(func, "substring")
        column = self.visit(field)
        return getattr(column, func)(substr.py_val, autoescape=True)


def _widen_single_in(text: str) -> str:
    """``x in ('A')`` -> ``x in ('A','A')``: OData allows a one-value list, odata-query 0.10 does not.

    Works on the lexer's tokens, so a string literal that merely contains "in (" is never touched.
    """
    tokens = list(ODataLexer().tokenize(text))
    edits: list[tuple[int, str]] = []
    for i in range(len(tokens) - 3):
        kinds = [t.type for t in tokens[i : i + 4]]
        if kinds[0] == "IN" and kinds[1] == "(" and kinds[3] == ")" and kinds[2] not in ("(", ")", ","):
            literal = text[tokens[i + 2].index : tokens[i + 3].index].strip()
            edits.append((tokens[i + 3].index, f",{literal}"))
    for position, insert in reversed(edits):
        text = text[:position] + insert + text[position:]
    return text


def _parse(text: str) -> Any:
    try:
        return ODataParser().parse(ODataLexer().tokenize(text))
    except odata_ex.ParsingException:
        widened = _widen_single_in(text)
        if widened == text:
            raise
        return ODataParser().parse(ODataLexer().tokenize(widened))


def compile_filter(text: str, *, table: sa.Table, entity_set: EntitySet) -> Any:
    """Parse and compile; any syntax, field or type problem becomes a 400 ODataError."""
    try:
        tree = _parse(text)
        return _Visitor(table, entity_set).visit(tree)
    except odata_ex.InvalidFieldException as exc:
        raise ODataError(
            400,
            "BadRequest",
            f"Could not find a property named '{exc.field_name}' on type '{entity_set.type_name}'.",
        ) from exc
    except (odata_ex.ODataException, NotImplementedError, TypeError, ValueError, AttributeError) as exc:
        raise ODataError(400, "BadRequest", f"Invalid $filter expression: {exc}") from exc
