"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the domain dataclasses the REST side returns,
derived from the same field types `gateway.web.pagination.to_json` serialises, so the document and
the responses cannot drift apart."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.web.pagination import camel

Schema = dict[str, Any]


class SchemaRegistry:
    """Collects component schemas; `ref(T)` returns a `$ref` and registers T once."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}

    def ref(self, cls: type, *, omit: Sequence[str] = (), name: str | None = None) -> Schema:
        name = name or cls.__name__
        if name not in self.components:
            self.components[name] = {}  # placeholder first: a recursive type refers to itself
            self.components[name] = self._object(cls, omit=omit)
        return {"$ref": f"#/components/schemas/{name}"}

    def schema_of(self, annotation: Any) -> Schema:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            inner = (
                self.schema_of(members[0])
                if len(members) == 1
                else {"anyOf": [self.schema_of(m) for m in members]}
            )
            if type(None) in args:
                return {"anyOf": [inner, {"type": "null"}]}
            return inner
        if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
            item = args[0] if args else Any
            return {"type": "array", "items": self.schema_of(item)}
        if origin in (dict, Mapping, typing.Mapping):
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.schema_of(value)}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if isinstance(annotation, type):
            if issubclass(annotation, enum.Enum):
                return {"type": "string", "enum": [m.value for m in annotation]}
            if dataclasses.is_dataclass(annotation):
                return self.ref(annotation)
            simple = _SIMPLE.get(annotation)
            if simple is not None:
                return dict(simple)
        return {}

    def _object(self, cls: type, *, omit: Sequence[str]) -> Schema:
        hints = typing.get_type_hints(cls)
        properties: dict[str, Schema] = {}
        for f in dataclasses.fields(cls):
            if f.name in omit:
                continue
            properties[camel(f.name)] = self.schema_of(hints[f.name])
        return {"type": "object", "properties": properties, "required": list(properties)}


_SIMPLE: dict[type, Schema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    Decimal: {"type": "number"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
}
