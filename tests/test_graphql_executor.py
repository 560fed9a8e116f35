"""The short paths of schema/direct_resolvers.py and schema/executor.py against strawberry's own
execution of the same types: same data, same errors at the same paths, and the fields that must
keep strawberry's wrapper (arguments, field extensions, `resolve` hooks) keep it."""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.build import build_schema
from schema.direct_resolvers import install_direct_resolvers, leaf_attribute
from schema.executor import GatewayExecutor


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Record:
    """A domain-like object: plain attributes, one that raises, one that is not an Int."""

    def __init__(self, number: str, owner: str | None = "o1") -> None:
        self.number = number
        self.title: str | None = f"#{number}"
        self.color = Color.BLUE
        self.count = 3
        self.not_a_count: Any = "many"
        self.owner_code = owner

    @property
    def broken(self) -> str:
        raise RuntimeError(f"broken {self.number}")


CALLS: list[str] = []


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


def owner_of(root: strawberry.Parent[Record], info: strawberry.Info) -> Owner | None:
    CALLS.append(f"owner {info.context['who']}")
    return Owner(code=root.owner_code) if root.owner_code else None


async def later_owner(root: strawberry.Parent[Record]) -> Owner | None:
    return Owner(code=root.owner_code) if root.owner_code else None


def pending_owner(root: strawberry.Parent[Record], info: strawberry.Info) -> Awaitable[Owner | None]:
    return later_owner(root)


@strawberry.type
class Owner:
    code: str


@strawberry.type
class Item:
    number: str
    title: str | None
    color: Color
    count: int
    not_a_count: int
    owner_code: str | None = strawberry.field(name="ownerCode")
    broken: str
    maybe_broken: str | None = strawberry.field(resolver=lambda root: root.broken)
    owner: Owner | None = strawberry.field(resolver=owner_of)
    later: Owner | None = strawberry.field(resolver=later_owner)
    pending: Owner | None = strawberry.field(resolver=pending_owner)
    shout: str = strawberry.field(resolver=lambda root: root.number, extensions=[Upper()])

    @strawberry.field
    def padded(self, width: int = 5) -> str:
        return str(getattr(self, "number", "")).rjust(width, "0")


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Record("1"), Record("2", owner=None)]  # type: ignore[list-item]

    @strawberry.field
    def nullable_items(self) -> list[Item | None]:
        return [Record("3"), Record(None)]  # type: ignore[list-item, arg-type]


def plain() -> strawberry.Schema:
    return strawberry.Schema(query=Query)


def streamlined() -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, execution_context_class=GatewayExecutor)
    install_direct_resolvers(schema)
    return schema


def outcome(result: Any) -> tuple[Any, list[tuple[str, list[Any] | None]]]:
    return result.data, sorted((e.message, e.path) for e in result.errors or ())


QUERIES = [
    "{ items { number title color count ownerCode owner { code } later { code } pending { code } } }",
    "{ items { number shout padded(width: 3) p: padded } }",
    "{ items { number notACount } }",  # Int cannot represent "many": an error at the field's path
    "{ items { number broken } }",  # a raising attribute on a non-null field nulls the item list
    "{ items { number maybeBroken } }",
    "{ nullableItems { number title } }",  # null for a non-null String: the item becomes null
    "{ items { __typename n: number number } }",
]


async def test_the_same_answers_and_errors_as_strawberrys_own_execution() -> None:
    reference, fast = plain(), streamlined()
    for query in QUERIES:
        expected = outcome(await reference.execute(query, context_value={"who": "ref"}))
        got = outcome(await fast.execute(query, context_value={"who": "fast"}))
        assert got == expected, query
    assert (await fast.execute(QUERIES[0], context_value={"who": "x"})).data["items"][1]["owner"] is None


async def test_a_relation_resolver_gets_a_strawberry_info_with_the_context() -> None:
    CALLS.clear()
    result = await streamlined().execute("{ items { owner { code } } }", context_value={"who": "ctx"})
    assert result.errors is None
    assert CALLS == ["owner ctx", "owner ctx"]


def test_only_fields_without_arguments_or_extensions_get_direct_resolvers() -> None:
    schema = streamlined()
    fields = schema._schema.type_map["Item"].fields  # type: ignore[union-attr]

    def strawberrys(name: str) -> bool:
        return fields[name].resolve.__qualname__.startswith(GraphQLCoreConverter.from_resolver.__qualname__)

    assert not strawberrys("number") and not strawberrys("owner") and not strawberrys("later")
    assert strawberrys("padded") and strawberrys("shout")
    assert leaf_attribute(fields["number"]) == ("number", schema._schema.type_map["String"])
    assert leaf_attribute(fields["color"]) is not None
    assert leaf_attribute(fields["owner"]) is None and leaf_attribute(fields["padded"]) is None


async def test_a_resolve_hook_still_sees_every_field() -> None:
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    schema = strawberry.Schema(query=Query, execution_context_class=GatewayExecutor, extensions=[Watch])
    install_direct_resolvers(schema)
    result = await schema.execute("{ items { number title } }")
    assert result.errors is None
    assert seen.count("number") == 2 and seen.count("title") == 2


def test_the_gateway_schema_uses_both() -> None:
    schema = build_schema()
    assert schema.execution_context_class is GatewayExecutor
    customer = schema._schema.type_map["Customer"].fields  # type: ignore[union-attr]
    assert leaf_attribute(customer["number"]) is not None
    assert "from_resolver" not in customer["salesperson"].resolve.__qualname__
    assert "from_resolver" in customer["priceLines"].resolve.__qualname__  # it takes first/after
