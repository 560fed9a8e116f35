"""GET on collections and entities: filter, order, page by skiptoken, expand, count, change tracking.

Paging is keyset on the primary key unless $orderby is given, so nextLinks return every row once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .errors import ODataError
from .filtering import compile_filter
from .model import EntitySet
from .options import Expand, QueryOptions, encode_token, parse_options
from .store import COMPANY_COLUMN, VERSION_COLUMN
from .values import to_json
from .wire import ODataRequest, ODataResponse, encode_query

if TYPE_CHECKING:
    from .engine import ODataService, Target


class Reader:
    def __init__(self, service: ODataService, request: ODataRequest, target: Target) -> None:
        self.service = service
        self.flavor = service.flavor
        self.store = service.store
        self.request = request
        self.target = target
        self.table = self.store.tables[target.entity_set.name]

    def _options(self) -> QueryOptions:
        options = parse_options(
            self.request.query, entity_set=self.target.entity_set, model=self.service.model
        )
        if options.skip is not None and not self.flavor.allow_skip:
            raise ODataError(400, "SkipNotSupported", "The query parameter $skip is not supported")
        return options

    def _where(self, options: QueryOptions) -> list[Any]:
        clauses = list(self.target.conditions)
        if options.filter:
            clauses.append(
                compile_filter(options.filter, table=self.table, entity_set=self.target.entity_set)
            )
        return clauses

    # -- serialization --------------------------------------------------------------------------

    def serialize(
        self, entity_set: EntitySet, row: dict[str, Any], select: list[str] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        etag = None if entity_set.computed else self.flavor.etag(entity_set, row)
        if etag is not None:
            out["@odata.etag"] = etag
        chosen = set(select) if select else None
        if chosen is not None and self.flavor.always_include_key:
            chosen.update(entity_set.key)
        for prop in entity_set.props:
            if chosen is None or prop.name in chosen:
                out[prop.name] = to_json(prop, row.get(prop.name), millis=self.flavor.datetime_millis)
        self.flavor.decorate(entity_set, out, self.store)
        return out

    def _expand(self, options: QueryOptions, rows: list[dict[str, Any]], out: list[dict[str, Any]]) -> None:
        entity_set = self.target.entity_set
        for expand in options.expand:
            if expand.lookup_column is not None:
                self._expand_lookup(expand, rows, out)
                continue
            child = entity_set.child(expand.name)
            assert child is not None
            child_set = self.service.model.get(child.target_set)
            assert child_set is not None
            table = self.store.tables[child_set.name]
            parent_keys = [row[entity_set.single_key] for row in rows]
            grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            # Chunk the IN list: SQLite caps bound parameters per statement.
            for start in range(0, len(parent_keys), 500):
                chunk = parent_keys[start : start + 500]
                query = sa.select(table).where(table.c[child.foreign_key].in_(chunk))
                if expand.options.filter:
                    query = query.where(
                        compile_filter(expand.options.filter, table=table, entity_set=child_set)
                    )
                query = query.order_by(*self._order(table, child_set, expand.options))
                for child_row in self.store.conn.execute(query).mappings():
                    grouped[child_row[child.foreign_key]].append(dict(child_row))
            for row, entity in zip(rows, out, strict=True):
                children = grouped.get(row[entity_set.single_key], [])
                if expand.options.top is not None:
                    children = children[: expand.options.top]
                entity[expand.name] = [self.serialize(child_set, c, expand.options.select) for c in children]

    def _expand_lookup(self, expand: Expand, rows: list[dict[str, Any]], out: list[dict[str, Any]]) -> None:
        """``$expand=ownerid($select=fullname)``: the referenced row, or null."""
        assert expand.lookup_column is not None
        target_set = self.service.model.get(expand.target_set)
        assert target_set is not None
        table = self.store.tables[target_set.name]
        key = table.c[target_set.single_key]
        wanted = sorted({row[expand.lookup_column] for row in rows if row.get(expand.lookup_column)})
        found: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            query = sa.select(table).where(key.in_(wanted[start : start + 500]))
            for mapping in self.store.conn.execute(query).mappings():
                found[mapping[target_set.single_key]] = dict(mapping)
        for row, entity in zip(rows, out, strict=True):
            target_row = found.get(row.get(expand.lookup_column))
            entity[expand.name] = (
                None if target_row is None else self.serialize(target_set, target_row, expand.options.select)
            )

    @staticmethod
    def _order(table: sa.Table, entity_set: EntitySet, options: QueryOptions) -> list[Any]:
        order: list[Any] = [
            table.c[name].desc() if desc else table.c[name].asc() for name, desc in options.orderby
        ]
        order.extend(table.c[name].asc() for name in entity_set.key)
        return order

    # -- GET ------------------------------------------------------------------------------------

    def single(self) -> ODataResponse:
        options = self._options()
        row = self.service.find(self.target)
        if row is None:
            raise self.service.not_found(self.target)
        entity = self.serialize(self.target.entity_set, row, options.select)
        if options.expand:
            self._expand(options, [row], [entity])
        context = self.flavor.context_url(
            self.request.service_root,
            self.target.scope,
            self._context_path(),
            select=options.select,
            entity=True,
        )
        headers = {"ETag": entity["@odata.etag"]} if "@odata.etag" in entity else {}
        return ODataResponse(200, payload={"@odata.context": context, **entity}, headers=headers)

    def _context_path(self) -> str:
        """Context URLs name the set, not the key (``#companies(x)/customers/$entity``)."""
        return self.target.collection_path

    def count_only(self) -> ODataResponse:
        options = self._options()
        query = sa.select(sa.func.count()).select_from(self.table).where(*self._where(options))
        total = self.store.conn.execute(query).scalar_one()
        if self.flavor.count_cap is not None:
            total = min(total, self.flavor.count_cap)
        return ODataResponse(200, text=str(total), content_type="text/plain")

    def _page_size(self) -> tuple[int, bool]:
        limit = self.service.max_page_size
        asked = self.request.prefer().get("odata.maxpagesize")
        if asked is None:
            return limit, False
        try:
            size = int(asked)
        except ValueError:
            return limit, False
        if size <= 0:
            return limit, False
        return min(size, limit), True

    def collection(self) -> ODataResponse:
        options = self._options()
        tracking = self.flavor.change_tracking and (
            "odata.track-changes" in self.request.prefer() or options.deltatoken is not None
        )
        if tracking and (options.filter or options.orderby or options.expand or options.top is not None):
            raise ODataError(
                400,
                "BadRequest",
                "$filter, $orderby, $expand and $top are not supported with change tracking.",
            )
        if options.deltatoken is not None:
            from .delta import delta_response

            return delta_response(self, options)
        page_size, applied = self._page_size()
        state = dict(options.skiptoken or {})
        where = self._where(options)
        query = sa.select(self.table).where(*where)
        keyset = not options.orderby
        key_cols = [self.table.c[name] for name in self.target.entity_set.key]
        if keyset and "k" in state:
            last = state["k"]
            if len(key_cols) == 1:
                query = query.where(key_cols[0] > last[0])
            else:
                query = query.where(sa.tuple_(*key_cols) > sa.tuple_(*(sa.literal(v) for v in last)))
        offset = int(state.get("o", options.skip or 0)) if not (keyset and "k" in state) else 0
        remaining = state.get("n", options.top)
        limit = page_size if remaining is None else min(page_size, int(remaining))
        query = query.order_by(*self._order(self.table, self.target.entity_set, options))
        query = query.offset(offset).limit(limit + 1)
        rows = [dict(r) for r in self.store.conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        left = None if remaining is None else int(remaining) - len(rows)
        if left is not None and left <= 0:
            more = False
        entities = [self.serialize(self.target.entity_set, row, options.select) for row in rows]
        if options.expand:
            self._expand(options, rows, entities)
        root = self.request.service_root
        payload: dict[str, Any] = {
            "@odata.context": self.flavor.context_url(
                root, self.target.scope, self._context_path(), select=options.select, entity=False
            )
        }
        if options.count:
            total_query = sa.select(sa.func.count()).select_from(self.table).where(*where)
            total = self.store.conn.execute(total_query).scalar_one()
            cap = self.flavor.count_cap
            if cap is not None and total > cap:
                # Dataverse counts at most 5,000 rows and says so in an annotation.
                payload["@odata.count"] = cap
                payload["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
            else:
                payload["@odata.count"] = total
        payload["value"] = entities
        delta_base = state.get("d")
        if tracking and delta_base is None:
            delta_base = self.store.current_version
        if more:
            next_state: dict[str, Any] = {}
            if keyset:
                next_state["k"] = [_token_value(rows[-1][c.name]) for c in key_cols]
            else:
                next_state["o"] = offset + len(rows)
            if left is not None:
                next_state["n"] = left
            if delta_base is not None:
                next_state["d"] = delta_base
            payload["@odata.nextLink"] = self._link("$skiptoken", encode_token(next_state))
        elif tracking:
            payload["@odata.deltaLink"] = self._link("$deltatoken", delta_token(int(delta_base or 0)))
        headers: dict[str, str] = {}
        preferences = []
        if applied:
            preferences.append(f"odata.maxpagesize={page_size}")
        if tracking:
            preferences.append("odata.track-changes")
        if preferences:
            headers["Preference-Applied"] = ",".join(preferences)
        return ODataResponse(200, payload=payload, headers=headers)

    def _link(self, name: str, value: str) -> str:
        """Absolute URL of this request with one paging/delta option replaced."""
        drop = {"$skiptoken", "$deltatoken", "$skip", "$top"}
        pairs = [(k, v) for k, v in self.request.query if k not in drop]
        pairs.append((name, value))
        base = self.request.service_root + self.target.scope.prefix + self.target.path
        return f"{base}?{encode_query(pairs)}"


def _token_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def delta_token(version: int) -> str:
    """Dataverse's shape: ``<version>!<MM/dd/yyyy HH:mm:ss>``."""
    stamp = datetime.now(UTC).strftime("%m/%d/%Y %H:%M:%S")
    return f"{version}!{stamp}"


__all__ = ["COMPANY_COLUMN", "VERSION_COLUMN", "Reader", "delta_token"]
