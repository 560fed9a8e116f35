"""Direct resolvers for the fields that use none of strawberry's per-call machinery: plain attributes
and argument-free resolvers that take only the parent and/or `info`.

strawberry wraps every field's resolver so that it can convert arguments, build an `Info`, run field
extensions and map exceptions to union results. A 50-customer page resolves ~440 fields, nearly all
of them plain attributes or the three relations (`salesperson`, `currency`, `defaultPriceList`),
and in cProfile the wrapper (argument conversion into a fresh dict, a `reduce` over no extensions,
three extra calls) took about twice the time of the resolvers it wrapped. A field qualifies only
when none of that machinery could do anything for it: no arguments, no field extensions (which also
carry permission classes), no exception handlers, not a subscription. It then gets a resolver that
does exactly what strawberry's wrapper would end up doing: `getattr` for an attribute, or the
resolver function called with the parent and a strawberry `Info`. Fields that do not qualify keep
strawberry's wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Resolve = Callable[..., Any]
LEAF = "gateway_leaf_attribute"
RawInfo = GraphQLResolveInfo[Any]


def install_direct_resolvers(schema: strawberry.Schema) -> int:
    """Give every qualifying field of `schema` its direct resolver; the number of fields changed."""
    converter = schema.schema_converter
    changed = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for graphql_field in graphql_type.fields.values():
            resolve = _direct(schema, converter, graphql_field)
            if resolve is not None:
                graphql_field.resolve = resolve
                changed += 1
    return changed


def leaf_attribute(graphql_field: GraphQLField) -> tuple[str, GraphQLLeafType] | None:
    """(attribute name, scalar or enum type) when the field's value is a scalar read straight off its
    parent by `getattr`, for the executor's short path; else None."""
    return getattr(graphql_field.resolve, LEAF, None)


def _direct(
    schema: strawberry.Schema, converter: GraphQLCoreConverter, graphql_field: GraphQLField
) -> Resolve | None:
    field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or graphql_field.resolve is None:
        return None
    if field.is_subscription or field.extensions or graphql_field.args:
        return None
    if converter._get_field_exception_handlers(field):
        return None
    resolver = field.base_resolver
    if resolver is None:
        resolve = _attribute(schema.config.default_resolver, field.python_name)
        named = (
            graphql_field.type.of_type
            if isinstance(graphql_field.type, GraphQLNonNull)
            else graphql_field.type
        )
        if schema.config.default_resolver is getattr and is_leaf_type(named):
            setattr(resolve, LEAF, (field.python_name, named))
        return resolve
    if resolver.arguments or resolver.self_parameter is not None:
        return None
    # a parameter strawberry fills in that is not one of these two would need its own handling
    parent = resolver.parent_parameter or resolver.root_parameter
    if resolver.root_parameter not in (None, parent):  # `root` named apart from the Parent one
        return None
    wanted = {p.name for p in (parent, resolver.info_parameter) if p is not None}
    func = resolver.wrapped_func
    if wanted != set(resolver.signature.parameters) or isinstance(func, (staticmethod, classmethod)):
        return None
    return _call(
        func,
        parent=parent.name if parent else None,
        info=resolver.info_parameter.name if resolver.info_parameter else None,
        make_info=partial(schema.config.info_class, _field=field),
    )


def _attribute(default_resolver: Callable[[Any, str], object], name: str) -> Resolve:
    if default_resolver is getattr:

        def attribute(source: Any, _info: RawInfo) -> Any:
            return getattr(source, name)

        return attribute

    def configured(source: Any, _info: RawInfo) -> Any:
        return default_resolver(source, name)

    return configured


def _call(
    func: Callable[..., Any],
    *,
    parent: str | None,
    info: str | None,
    make_info: Callable[..., Any],
) -> Resolve:
    if parent is not None and info is not None:
        parent_name, info_name = parent, info

        def with_parent_and_info(source: Any, raw: RawInfo) -> Any:
            return func(**{parent_name: source, info_name: make_info(_raw_info=raw)})

        return with_parent_and_info
    if parent is not None:
        parent_name = parent

        def with_parent(source: Any, _raw: RawInfo) -> Any:
            return func(**{parent_name: source})

        return with_parent
    if info is not None:
        info_name = info

        def with_info(_source: Any, raw: RawInfo) -> Any:
            return func(**{info_name: make_info(_raw_info=raw)})

        return with_info

    def bare(_source: Any, _raw: RawInfo) -> Any:
        return func()

    return bare
