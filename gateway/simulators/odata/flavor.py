"""What differs between Business Central and Dataverse, as overridable defaults for the engine.

Each simulator subclasses ``Flavor``; the engine asks it for limits, etags, stamps, codes and URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import EntitySet
from .paths import Segment
from .store import VERSION_COLUMN, Store
from .wire import ODataRequest, ODataResponse


@dataclass(frozen=True)
class Scope:
    """Where a request's entity sets live: BC's ``companies(<id>)/`` prefix, or nowhere in particular."""

    company: str | None = None
    prefix: str = ""


class Flavor:
    """Defaults follow OData v4; subclasses set the service-specific behaviour."""

    name = "odata"
    max_page_size = 1000
    allow_skip = True
    require_if_match = False
    patch_upsert = False
    always_include_key = False
    datetime_millis = True
    post_returns_entity = True
    patch_returns_entity = True
    client_keys = False
    change_tracking = False
    count_cap: int | None = None  # $count answers at most this many (Dataverse: 5,000)
    # Generic error kinds raised by the engine -> the service's own codes.
    error_codes: dict[str, str] = {}

    def code(self, kind: str) -> str:
        return self.error_codes.get(kind, kind)

    def etag(self, entity_set: EntitySet, row: dict[str, Any]) -> str | None:
        version = row.get(VERSION_COLUMN)
        return None if version is None else f'W/"{version}"'

    def stamp(
        self,
        entity_set: EntitySet,
        values: dict[str, Any],
        *,
        store: Store,
        created: bool,
        changed: frozenset[str] = frozenset(),
    ) -> None:
        """Set server-maintained fields on a row about to be written; ``changed`` names the fields the
        client sent."""
        values[VERSION_COLUMN] = store.next_version()

    def check_update(self, entity_set: EntitySet, existing: dict[str, Any], values: dict[str, Any]) -> None:
        """Refuse an update the service refuses (raise ODataError); ``values`` are the sent fields."""

    def resolve_scope(self, segments: list[Segment], store: Store) -> tuple[Scope, list[Segment]]:
        return Scope(), segments

    def context_url(
        self, root: str, scope: Scope, path: str, *, select: list[str] | None, entity: bool
    ) -> str:
        suffix = f"({','.join(select)})" if select else ""
        return f"{root}$metadata#{scope.prefix}{path}{suffix}{'/$entity' if entity else ''}"

    def decorate(self, entity_set: EntitySet, out: dict[str, Any], store: Store) -> None:
        """Fill computed properties of a serialized entity (e.g. availability's asOfDateTime)."""

    def function(self, segment: Segment, request: ODataRequest, store: Store) -> ODataResponse | None:
        """Handle an unbound function like Dataverse's ``WhoAmI()``; None when there is no such one."""
        return None

    def after_write(self, entity_set: EntitySet, row: dict[str, Any], store: Store, *, change: str) -> None:
        """Keep derived data consistent after a write (BC order totals); ``change`` is created,
        updated or deleted."""

    def metadata_extra(self) -> str:
        """Extra CSDL elements (functions, complex types) inside the schema."""
        return ""
