"""The OData request handler: resolves a resource path and runs reads and writes against the store.

Flavour-neutral; Business Central and Dataverse plug in through ``Flavor``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .errors import ODataError
from .flavor import Flavor, Scope
from .metadata import build_csdl
from .model import Child, EntitySet, ServiceModel
from .paths import Segment, parse_path
from .reading import Reader
from .store import COMPANY_COLUMN, Store
from .values import from_key_literal
from .wire import ODataRequest, ODataResponse
from .writing import Writer

logger = logging.getLogger(__name__)


@dataclass
class Target:
    """What a path points at: a collection (maybe under a parent) or one entity, and its scope."""

    entity_set: EntitySet
    scope: Scope
    path: str  # for context URLs, relative to the scope prefix, e.g. "salesOrders(<id>)/salesOrderLines"
    conditions: list[Any]
    key: dict[str, Any] | None = None  # set when the path ends in a key predicate
    key_is_alternate: bool = False
    parent: tuple[Child, Any] | None = None  # the contained collection's foreign key and parent key
    count: bool = False
    collection_path: str = ""  # path without the final key predicate

    def __post_init__(self) -> None:
        self.collection_path = self.collection_path or self.path


class ODataService:
    """One service root (BC API v2.0, BC integration API or Dataverse) over one store."""

    def __init__(
        self, *, model: ServiceModel, store_ref: StoreRef, flavor: Flavor, max_page_size: int | None = None
    ) -> None:
        self.model = model
        self.store_ref = store_ref
        self.flavor = flavor
        # /_sim/limits may change it at runtime; None means the real service's limit.
        self.max_page_size = max_page_size or flavor.max_page_size

    @property
    def store(self) -> Store:
        return self.store_ref.store

    def handle(self, request: ODataRequest) -> ODataResponse:
        """Answer one operation; an ODataError becomes the service's error body."""
        try:
            with self.store.transaction():
                return self._dispatch(request)
        except ODataError as exc:
            return self.error_response(exc)
        except Exception:
            # A bug in the simulator must look like a server fault to the client, not a hang-up.
            logger.exception("simulator failed on %s %s", request.method, request.path)
            return self.error_response(
                ODataError(500, "InternalServerError", "An unexpected error occurred.")
            )

    def error_response(self, exc: ODataError) -> ODataResponse:
        body = {"error": {"code": self.flavor.code(exc.code), "message": exc.message}}
        return ODataResponse(exc.status, payload=body, content_type="application/json", headers=exc.headers)

    # -- resolution -----------------------------------------------------------------------------

    def _dispatch(self, request: ODataRequest) -> ODataResponse:
        method = request.method.upper()
        path = request.path.strip("/")
        if path == "$metadata":
            self._only(method, "GET")
            xml = build_csdl(self.model, extra=self.flavor.metadata_extra())
            return ODataResponse(200, text=xml, content_type="application/xml")
        segments = parse_path(path)
        if not segments:
            self._only(method, "GET")
            return self._service_document(request)
        if len(segments) == 1 and (segments[0].call or self.model.get(segments[0].name) is None):
            answer = self.flavor.function(segments[0], request, self.store)
            if answer is not None:
                return answer
        scope, segments = self.flavor.resolve_scope(segments, self.store)
        target = self._resolve(segments, scope)
        reader = Reader(self, request, target)
        writer = Writer(self, request, target)
        if target.count:
            self._only(method, "GET")
            return reader.count_only()
        if target.key is None:
            if method == "GET":
                return reader.collection()
            if method == "POST":
                return writer.create()
            raise self._not_allowed(method)
        if method == "GET":
            return reader.single()
        if method in ("PATCH", "PUT", "MERGE"):
            return writer.update()
        if method == "DELETE":
            return writer.delete()
        raise self._not_allowed(method)

    def _only(self, method: str, allowed: str) -> None:
        if method != allowed:
            raise self._not_allowed(method)

    def _not_allowed(self, method: str) -> ODataError:
        return ODataError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not allowed here.")

    def _service_document(self, request: ODataRequest) -> ODataResponse:
        root = request.service_root
        value = [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in self.model.sets]
        return ODataResponse(200, payload={"@odata.context": f"{root}$metadata", "value": value})

    def _resolve(self, segments: list[Segment], scope: Scope) -> Target:
        first = segments[0]
        entity_set = self.model.get(first.name)
        if entity_set is None or first.call:
            raise ODataError(404, "NotFound", f"Resource not found for the segment '{first.name}'.")
        if entity_set.company_scoped and scope.company is None:
            raise ODataError(404, "NotFound", f"The entity set '{first.name}' needs a company in the path.")
        table = self.store.tables[entity_set.name]
        conditions: list[Any] = []
        if entity_set.company_scoped:
            conditions.append(table.c[COMPANY_COLUMN] == scope.company)
        target = Target(entity_set, scope, entity_set.name, conditions)
        rest = segments[1:]
        if first.keys is not None:
            self._apply_key(target, first)
        for segment in rest:
            if segment.name == "$count" and target.key is None and not target.count:
                target.count = True
                continue
            if target.key is None or target.count:
                raise ODataError(404, "NotFound", f"Resource not found for the segment '{segment.name}'.")
            child = target.entity_set.child(segment.name)
            child_set = self.model.get(child.target_set) if child else None
            if child is None or child_set is None:
                raise ODataError(404, "NotFound", f"Resource not found for the segment '{segment.name}'.")
            parent_row = self.find(target)
            if parent_row is None:
                raise self.not_found(target)
            parent_key = parent_row[target.entity_set.single_key]
            child_table = self.store.tables[child_set.name]
            child_conditions = [child_table.c[child.foreign_key] == parent_key]
            if child_set.company_scoped:
                child_conditions.append(child_table.c[COMPANY_COLUMN] == scope.company)
            target = Target(
                child_set,
                scope,
                f"{target.path}/{segment.name}",
                child_conditions,
                parent=(child, parent_key),
            )
            if segment.keys is not None:
                self._apply_key(target, segment)
        return target

    def _apply_key(self, target: Target, segment: Segment) -> None:
        entity_set = target.entity_set
        keys = segment.keys or {}
        names: tuple[str, ...]
        if set(keys) == {""}:
            if len(entity_set.key) != 1:
                raise ODataError(400, "BadRequest", f"The key of '{entity_set.name}' has several parts.")
            names = entity_set.key
            values = [keys[""]]
        else:
            names = tuple(keys)
            values = [keys[n] for n in names]
            if set(names) == set(entity_set.key):
                pass
            elif any(set(names) == set(alt) for alt in entity_set.alternate_keys):
                target.key_is_alternate = True
            else:
                raise ODataError(
                    400, "BadRequest", f"'{','.join(names)}' is not a key of '{entity_set.type_name}'."
                )
        key: dict[str, Any] = {}
        for name, literal in zip(names, values, strict=True):
            prop = entity_set.prop(name)
            assert prop is not None
            try:
                key[name] = from_key_literal(prop, literal.text)
            except ValueError:
                raise ODataError(400, "BadRequest", f"Invalid key value '{literal.text}'.") from None
        target.key = key
        target.collection_path = target.path
        target.path = f"{target.path}({segment_text(segment)})"

    # -- helpers shared by reader and writer ----------------------------------------------------

    def find(self, target: Target) -> dict[str, Any] | None:
        assert target.key is not None
        table = self.store.tables[target.entity_set.name]
        clauses = [*target.conditions, *(table.c[k] == v for k, v in target.key.items())]
        row = self.store.conn.execute(sa.select(table).where(*clauses).limit(2)).mappings().all()
        if len(row) > 1:
            raise ODataError(400, "BadRequest", "The key matches more than one record.")
        return dict(row[0]) if row else None

    def not_found(self, target: Target) -> ODataError:
        return ODataError(
            404,
            "RecordNotFound",
            f"{target.entity_set.type_name} With Id = {_key_text(target.key)} Does Not Exist",
        )


class StoreRef:
    """The store behind a service; ``/_sim/reset`` swaps it for a freshly seeded one."""

    def __init__(self, store: Store) -> None:
        self.store = store


def segment_text(segment: Segment) -> str:
    keys = segment.keys or {}
    parts = []
    for name, value in keys.items():
        literal = "'" + value.text.replace("'", "''") + "'" if value.quoted else value.text
        parts.append(literal if name == "" else f"{name}={literal}")
    return ",".join(parts)


def _key_text(key: dict[str, Any] | None) -> str:
    if not key:
        return ""
    return ",".join(str(v) for v in key.values())
