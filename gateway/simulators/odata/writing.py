"""POST, PATCH (with Dataverse upsert) and DELETE, with If-Match / If-None-Match and lookup binding.

Validates the body against the model first, so a failed write leaves nothing behind.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .errors import ODataError
from .model import EntitySet
from .store import COMPANY_COLUMN, VERSION_COLUMN
from .values import from_json
from .wire import ODataRequest, ODataResponse

if TYPE_CHECKING:
    from .engine import ODataService, Target


class Writer:
    def __init__(self, service: ODataService, request: ODataRequest, target: Target) -> None:
        self.service = service
        self.flavor = service.flavor
        self.store = service.store
        self.request = request
        self.target = target
        self.entity_set = target.entity_set
        self.table = self.store.tables[target.entity_set.name]

    def _check_writable(self) -> None:
        if not self.entity_set.writable or self.entity_set.computed:
            raise ODataError(
                405, "MethodNotAllowed", f"The entity set '{self.entity_set.name}' is read-only."
            )

    # -- body -----------------------------------------------------------------------------------

    def values_from_body(
        self, entity_set: EntitySet, body: Any, *, creating: bool
    ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """Body -> column values and deep-insert children; unknown properties are a 400."""
        if not isinstance(body, dict):
            raise ODataError(400, "BadRequest", "The request body must be a JSON object.")
        values: dict[str, Any] = {}
        children: dict[str, list[Any]] = {}
        lookup_columns = {lookup.column for lookup in entity_set.lookups}
        for name, value in body.items():
            if name.endswith("@odata.bind"):
                self._bind(entity_set, name[: -len("@odata.bind")], value, values)
                continue
            if "@" in name:
                continue  # instance annotations such as @odata.etag or @odata.type
            if entity_set.child(name) is not None:
                if not creating or not isinstance(value, list):
                    raise ODataError(400, "BadRequest", f"'{name}' can only be set as a list on create.")
                children[name] = value
                continue
            prop = entity_set.prop(name)
            if prop is None or name in lookup_columns:
                raise ODataError(
                    400,
                    "BadRequest",
                    f"The property '{name}' does not exist on type '{entity_set.type_name}'. "
                    "Make sure to only use property names that are defined by the type.",
                )
            if prop.read_only:
                continue  # server-maintained; the real services ignore or overwrite it
            try:
                values[name] = from_json(prop, value)
            except ValueError as exc:
                raise ODataError(400, "BadRequest", f"Invalid value for '{name}': {exc}") from None
        return values, children

    def _bind(self, entity_set: EntitySet, nav: str, value: Any, values: dict[str, Any]) -> None:
        lookup = entity_set.lookup_by_nav(nav)
        if lookup is None:
            raise ODataError(
                400,
                "BadRequest",
                f"An undeclared property '{nav}' which only has property annotations in the payload "
                "but no property value was found in the payload.",
            )
        if value is None:
            values[lookup.column] = None
            return
        if not isinstance(value, str):
            raise ODataError(400, "BadRequest", f"'{nav}@odata.bind' must be a string.")
        path = value.rsplit("/api/data/v9.2/", 1)[-1].lstrip("/")
        target_name, _, rest = path.partition("(")
        expected = lookup.navs[nav]
        if target_name != expected or not rest.endswith(")"):
            raise ODataError(400, "BadRequest", f"'{nav}@odata.bind' must reference /{expected}(<id>).")
        target_set = self.service.model.get(expected)
        if target_set is None:
            raise ODataError(400, "BadRequest", f"The entity set '{expected}' is not available here.")
        try:
            target_id = str(uuid.UUID(rest[:-1]))
        except ValueError:
            raise ODataError(400, "BadRequest", f"Invalid id in '{value}'.") from None
        table = self.store.tables[expected]
        exists = self.store.conn.execute(
            sa.select(sa.literal(1)).where(table.c[target_set.single_key] == target_id)
        ).first()
        if exists is None:
            raise ODataError(
                400, "RecordNotFound", f"{target_set.type_name} With Id = {target_id} Does Not Exist"
            )
        values[lookup.column] = target_id

    # -- POST -----------------------------------------------------------------------------------

    def create(self) -> ODataResponse:
        self._check_writable()
        body = self.request.json_body()
        values, children = self.values_from_body(self.entity_set, body, creating=True)
        row = self._insert(self.entity_set, values, body, parent=self.target.parent)
        self._insert_children(row, children)
        return self._written(row, created=True)

    def _insert(
        self,
        entity_set: EntitySet,
        values: dict[str, Any],
        body: dict[str, Any],
        *,
        parent: tuple[Any, Any] | None,
        key: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        table = self.store.tables[entity_set.name]
        row: dict[str, Any] = dict.fromkeys(entity_set.prop_names)
        row.update(values)
        key_name = entity_set.single_key
        if key:
            row.update(key)
        elif self.flavor.client_keys and body.get(key_name):
            prop = entity_set.prop(key_name)
            assert prop is not None
            try:
                row[key_name] = from_json(prop, body[key_name])
            except ValueError as exc:
                raise ODataError(400, "BadRequest", str(exc)) from None
        if row.get(key_name) is None:
            row[key_name] = str(uuid.uuid4())
        if parent is not None:
            child, parent_key = parent
            row[child.foreign_key] = parent_key
        if entity_set.company_scoped:
            row[COMPANY_COLUMN] = self.target.scope.company
        self._check_unique(entity_set, row, exclude=None)
        self.flavor.stamp(entity_set, row, store=self.store, created=True, changed=frozenset(values))
        self.store.conn.execute(table.insert().values(**row))
        self.flavor.after_write(entity_set, row, self.store, change="created")
        return self._reload(entity_set, row)

    def _reload(self, entity_set: EntitySet, row: dict[str, Any]) -> dict[str, Any]:
        """Read back what was stored: the flavour may have derived fields in after_write."""
        table = self.store.tables[entity_set.name]
        key_name = entity_set.single_key
        fresh = (
            self.store.conn.execute(sa.select(table).where(table.c[key_name] == row[key_name]))
            .mappings()
            .first()
        )
        return dict(fresh) if fresh is not None else row

    def _insert_children(self, row: dict[str, Any], children: dict[str, list[Any]]) -> None:
        for nav, items in children.items():
            child = self.entity_set.child(nav)
            assert child is not None
            child_set = self.service.model.get(child.target_set)
            assert child_set is not None
            for item in items:
                values, _ = self.values_from_body(child_set, item, creating=False)
                self._insert(child_set, values, item, parent=(child, row[self.entity_set.single_key]))

    def _check_unique(self, entity_set: EntitySet, row: dict[str, Any], *, exclude: Any) -> None:
        table = self.store.tables[entity_set.name]
        key_name = entity_set.single_key
        groups = [(key_name,), *entity_set.alternate_keys, *entity_set.unique]
        for names in groups:
            if any(row.get(n) is None or row.get(n) == "" for n in names):
                continue
            clauses = [table.c[n] == row[n] for n in names]
            if exclude is not None:
                clauses.append(table.c[key_name] != exclude)
            if entity_set.company_scoped:
                clauses.append(table.c[COMPANY_COLUMN] == row.get(COMPANY_COLUMN))
            if self.store.conn.execute(sa.select(sa.literal(1)).where(*clauses)).first() is not None:
                raise ODataError(
                    409, "DuplicateRecord", f"A record with the same {', '.join(names)} already exists."
                )

    # -- PATCH ----------------------------------------------------------------------------------

    def update(self) -> ODataResponse:
        self._check_writable()
        if self.request.method.upper() == "PUT":
            raise ODataError(405, "MethodNotAllowed", "Use PATCH to update an entity.")
        body = self.request.json_body()
        values, children = self.values_from_body(self.entity_set, body, creating=False)
        if children:
            raise ODataError(400, "BadRequest", "Navigation collections cannot be set on update.")
        existing = self.service.find(self.target)
        if_match = self.request.header("if-match")
        if existing is None:
            if not self.flavor.patch_upsert or if_match is not None:
                raise self.service.not_found(self.target)
            key = dict(self.target.key or {})
            row = self._insert(self.entity_set, {**values, **key}, body, parent=self.target.parent, key=key)
            return self._written(row, created=True)
        if self.request.header("if-none-match") == "*":
            raise ODataError(412, "PreconditionFailed", "A record with matching key values already exists.")
        self._check_etag(existing, if_match)
        self.flavor.check_update(self.entity_set, existing, values)
        key_name = self.entity_set.single_key
        if key_name in values and values[key_name] != existing[key_name]:
            raise ODataError(400, "BadRequest", f"The key property '{key_name}' cannot be changed.")
        merged = {**existing, **values}
        self._check_unique(self.entity_set, merged, exclude=existing[key_name])
        self.flavor.stamp(self.entity_set, merged, store=self.store, created=False, changed=frozenset(values))
        changes = {
            k: merged[k] for k in merged if k in values or k not in existing or merged[k] != existing[k]
        }
        self.store.conn.execute(
            self.table.update().where(self.table.c[key_name] == existing[key_name]).values(**changes)
        )
        self.flavor.after_write(self.entity_set, merged, self.store, change="updated")
        return self._written(self._reload(self.entity_set, merged), created=False)

    def _check_etag(self, existing: dict[str, Any], if_match: str | None) -> None:
        if if_match is None:
            if self.flavor.require_if_match:
                raise ODataError(
                    428,
                    "PreconditionRequired",
                    "Could not save the changes because the If-Match header is missing.",
                )
            return
        if if_match.strip() == "*":
            return
        current = self.flavor.etag(self.entity_set, existing)
        offered = [tag.strip() for tag in if_match.split(",")]
        if current not in offered:
            raise ODataError(
                412,
                "EntityChanged",
                "Could not save the changes because the record was changed by another user "
                "or process. Refresh the record and try again.",
            )

    # -- DELETE ---------------------------------------------------------------------------------

    def delete(self) -> ODataResponse:
        self._check_writable()
        existing = self.service.find(self.target)
        if existing is None:
            raise self.service.not_found(self.target)
        self._check_etag(existing, self.request.header("if-match"))
        self._delete_row(self.entity_set, existing)
        return ODataResponse(204)

    def _delete_row(self, entity_set: EntitySet, row: dict[str, Any]) -> None:
        key_name = entity_set.single_key
        for child in entity_set.children:
            child_set = self.service.model.get(child.target_set)
            assert child_set is not None
            child_table = self.store.tables[child_set.name]
            for child_row in self.store.conn.execute(
                sa.select(child_table).where(child_table.c[child.foreign_key] == row[key_name])
            ).mappings():
                self._delete_row(child_set, dict(child_row))
        table = self.store.tables[entity_set.name]
        self.store.conn.execute(table.delete().where(table.c[key_name] == row[key_name]))
        self.store.conn.execute(
            self.store.tombstones.insert().values(
                set_name=entity_set.name, entity_id=str(row[key_name]), version=self.store.next_version()
            )
        )
        self.flavor.after_write(entity_set, {**row, VERSION_COLUMN: None}, self.store, change="deleted")

    # -- answers --------------------------------------------------------------------------------

    def _written(self, row: dict[str, Any], *, created: bool) -> ODataResponse:
        from .reading import Reader

        entity_set = self.entity_set
        key_text = self._key_literal(row)
        location = (
            f"{self.request.service_root}{self.target.scope.prefix}{self._collection_path()}({key_text})"
        )
        representation = self.request.prefer().get("return") == "representation"
        wants_body = representation or (
            self.flavor.post_returns_entity if created else self.flavor.patch_returns_entity
        )
        headers: dict[str, str] = {"OData-EntityId": location}
        if created:
            headers["Location"] = location
        etag = self.flavor.etag(entity_set, row)
        if etag:
            headers["ETag"] = etag
        if representation:
            headers["Preference-Applied"] = "return=representation"
        if not wants_body:
            return ODataResponse(204, headers=headers)
        reader = Reader(self.service, self.request, self.target)
        entity = reader.serialize(entity_set, row, None)
        context = self.flavor.context_url(
            self.request.service_root, self.target.scope, self._collection_path(), select=None, entity=True
        )
        return ODataResponse(
            201 if created else 200, payload={"@odata.context": context, **entity}, headers=headers
        )

    def _collection_path(self) -> str:
        return self.target.collection_path

    def _key_literal(self, row: dict[str, Any]) -> str:
        value = row[self.entity_set.single_key]
        prop = self.entity_set.prop(self.entity_set.single_key)
        if prop is not None and prop.edm == "Edm.String":
            return "'" + str(value).replace("'", "''") + "'"
        return str(value)
