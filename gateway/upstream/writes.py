"""A write to an upstream entity set, as the sync engine states it: create, update (with an ETag),
upsert by key or alternate key, delete, or an unbound action (Dataverse's FulfillSalesOrder).
Connectors turn a list of these into `$batch` operations."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.upstream.odata import Key


class WriteKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
    ACTION = "action"


@dataclass(frozen=True, slots=True)
class Write:
    """One write. `key` is a GUID (str or UUID) or an alternate key mapping; `etag` goes to If-Match."""

    kind: WriteKind
    entity_set: str
    key: Key | None = None
    values: Mapping[str, Any] | None = None
    etag: str | None = None

    @classmethod
    def create(cls, entity_set: str, values: Mapping[str, Any]) -> Write:
        return cls(WriteKind.CREATE, entity_set, values=values)

    @classmethod
    def update(cls, entity_set: str, key: Key, values: Mapping[str, Any], *, etag: str) -> Write:
        return cls(WriteKind.UPDATE, entity_set, key=key, values=values, etag=etag)

    @classmethod
    def upsert(cls, entity_set: str, key: Key, values: Mapping[str, Any]) -> Write:
        return cls(WriteKind.UPSERT, entity_set, key=key, values=values)

    @classmethod
    def delete(cls, entity_set: str, key: Key, *, etag: str | None = None) -> Write:
        return cls(WriteKind.DELETE, entity_set, key=key, etag=etag)

    @classmethod
    def action(cls, name: str, parameters: Mapping[str, Any]) -> Write:
        """POST `name` (an unbound action at the service root) with `parameters` as its body."""
        return cls(WriteKind.ACTION, name, values=parameters)

    def __post_init__(self) -> None:
        if self.kind not in (WriteKind.CREATE, WriteKind.ACTION) and self.key is None:
            raise ValueError(f"a {self.kind} needs a key")
        if self.kind is not WriteKind.DELETE and self.values is None:
            raise ValueError(f"a {self.kind} needs values")
        if self.kind is WriteKind.UPDATE and not self.etag:
            raise ValueError("an update needs an ETag (or '*')")
