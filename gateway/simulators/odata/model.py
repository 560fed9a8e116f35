"""Entity model of a simulated OData service: entity sets, typed properties, keys, lookups.

The model is the authority for ``$metadata``, for the SQLite columns and for JSON (de)serialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

EDM_TYPES = frozenset(
    {
        "Edm.Guid",
        "Edm.String",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Decimal",
        "Edm.Double",
        "Edm.Boolean",
        "Edm.Date",
        "Edm.DateTimeOffset",
    }
)


@dataclass(frozen=True)
class Prop:
    """One structural property; ``read_only`` ones are maintained by the server and ignored on write."""

    name: str
    edm: str = "Edm.String"
    nullable: bool = True
    read_only: bool = False
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.edm not in EDM_TYPES:
            raise ValueError(f"unknown Edm type {self.edm}")


@dataclass(frozen=True)
class Lookup:
    """A Dataverse single-valued navigation: set by ``nav@odata.bind``, read back as ``column``."""

    column: str  # e.g. "_ownerid_value"
    navs: Mapping[str, str]  # navigation property name -> target entity set

    @property
    def default_nav(self) -> str:
        return next(iter(self.navs))


@dataclass(frozen=True)
class Child:
    """A contained collection (BC ``salesOrders({id})/salesOrderLines``) joined by a foreign key."""

    name: str  # navigation property on the parent
    target_set: str
    foreign_key: str  # property on the child holding the parent's key


@dataclass(frozen=True)
class EntitySet:
    """An entity set with its entity type; ``key`` is a tuple so computed sets can have composite keys."""

    name: str
    type_name: str
    key: tuple[str, ...]
    props: tuple[Prop, ...]
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    # Unique but not addressable in URLs (BC's table primary keys such as customers.number).
    unique: tuple[tuple[str, ...], ...] = ()
    lookups: tuple[Lookup, ...] = ()
    children: tuple[Child, ...] = ()
    writable: bool = True
    # Backed by a SQL view computed on request (BC itemAvailabilities) rather than a table.
    computed: bool = False
    # BC sets live under companies({id}); the row's company is a hidden column.
    company_scoped: bool = False
    _by_name: dict[str, Prop] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for prop in self.props:
            self._by_name[prop.name] = prop
        for key_prop in self.key:
            if key_prop not in self._by_name:
                raise ValueError(f"{self.name}: key {key_prop} is not a property")

    def prop(self, name: str) -> Prop | None:
        return self._by_name.get(name)

    @property
    def prop_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.props)

    @property
    def single_key(self) -> str:
        if len(self.key) != 1:
            raise ValueError(f"{self.name} has a composite key")
        return self.key[0]

    def lookup_by_nav(self, nav: str) -> Lookup | None:
        for lookup in self.lookups:
            if nav in lookup.navs:
                return lookup
        return None

    def child(self, name: str) -> Child | None:
        for child in self.children:
            if child.name == name:
                return child
        return None


@dataclass(frozen=True)
class ServiceModel:
    """All entity sets of one service root plus the CSDL namespace and container names."""

    namespace: str
    alias: str
    container: str
    sets: tuple[EntitySet, ...]
    _by_name: dict[str, EntitySet] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for entity_set in self.sets:
            self._by_name[entity_set.name] = entity_set

    def get(self, name: str) -> EntitySet | None:
        return self._by_name.get(name)
