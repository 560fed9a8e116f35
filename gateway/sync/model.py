"""Integration table mappings and field mappings as plain values (DOMAIN §4): what the engine
runs from. The store keeps them as rows (gateway.store.mappings); these are their frozen form."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.domain import Side
from gateway.errors import InvalidInput


class MappingDirection(enum.StrEnum):
    ERP_TO_CRM = "erp_to_crm"
    CRM_TO_ERP = "crm_to_erp"
    BIDIRECTIONAL = "bidirectional"

    def allows(self, source: Side) -> bool:
        """Whether values may flow out of `source` to the other side."""
        if self is MappingDirection.BIDIRECTIONAL:
            return True
        return (self is MappingDirection.ERP_TO_CRM) == (source is Side.ERP)


class ConflictPolicy(enum.StrEnum):
    ERP_WINS = "erp_wins"
    CRM_WINS = "crm_wins"
    LATEST_WINS = "latest_wins"
    MERGE = "merge"
    MANUAL = "manual"


class DeletionPolicy(enum.StrEnum):
    RESTORE = "restore"
    UNCOUPLE = "uncouple"
    PROPAGATE = "propagate"
    MANUAL = "manual"


TRANSFORMS = ("trim", "upper", "lower", "non_negative")
"""Named transformations; `truncate:N` cuts to N characters (the target's length)."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """Translate a value through another mapping's couplings.

    `erp_by` says how the ERP value names the ERP record of `mapping`: its key ("key", e.g. a
    salesperson code) or its id. The CRM value is always the CRM record's id (a GUID lookup column).
    `crm_fallback` names a CRM column of the looked-up entity that holds the ERP key, for records
    that exist on both sides without a coupling (the local currency, which BC keeps no row for).
    `empty_is_local_currency`: an empty ERP value means the company's local currency code.
    """

    mapping: str
    erp_by: str = "key"
    crm_fallback: str | None = None
    empty_is_local_currency: bool = False


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One field pair. `erp_field`/`crm_field` None: a constant goes to the other side.

    `erp_field` may join several ERP fields with "+" into one lookup key ("number+code" → "A|B").
    A CRM lookup column is named as read (`_ownerid_value`); `crm_nav`/`crm_nav_set` say how to write it.
    `label` names the field in error messages ("owner").
    """

    erp_field: str | None
    crm_field: str | None
    direction: MappingDirection = MappingDirection.BIDIRECTIONAL
    constant: Any = None
    value_map: Mapping[str, Any] | None = None
    lookup: Lookup | None = None
    transforms: tuple[str, ...] = ()
    required: bool = False
    enabled: bool = True
    crm_nav: str | None = None
    crm_nav_set: str | None = None
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.crm_field or self.erp_field or "?"

    def flows_from(self, source: Side) -> bool:
        if not self.enabled or not self.direction.allows(source):
            return False
        target = self.crm_field if source is Side.ERP else self.erp_field
        return target is not None


@dataclass(frozen=True, slots=True)
class TableMapping:
    """An integration table mapping: which entity sets, which way, and the rules for each record."""

    name: str
    erp_entity: str
    crm_entity: str
    direction: MappingDirection
    fields: tuple[FieldMapping, ...]
    erp_api: str = "v2.0"
    dependencies: tuple[str, ...] = ()
    erp_filter: Mapping[str, Any] = field(default_factory=dict)
    crm_filter: Mapping[str, Any] = field(default_factory=dict)
    sync_only_coupled: bool = False
    conflict_policy: ConflictPolicy = ConflictPolicy.ERP_WINS
    merge_fallback: ConflictPolicy = ConflictPolicy.ERP_WINS
    deletion_policy: DeletionPolicy = DeletionPolicy.MANUAL
    interval_seconds: int = 30
    enabled: bool = True
    match_groups: tuple[tuple[tuple[str, str], ...], ...] = ()
    """Priority groups of (erp_field, crm_field) pairs; the first group that finds candidates decides."""
    match_case_sensitive: bool = False
    erp_key_fields: tuple[str, ...] = ()
    crm_key_fields: tuple[str, ...] = ()
    erp_number_prefix: str = ""
    """Prefix of the deterministic number an ERP record created from CRM gets when CRM has none."""
    description: str = ""

    def directions(self) -> list[str]:
        """The run directions this mapping has ("erp_to_crm", "crm_to_erp")."""
        if self.direction is MappingDirection.BIDIRECTIONAL:
            return [MappingDirection.ERP_TO_CRM.value, MappingDirection.CRM_TO_ERP.value]
        return [self.direction.value]

    def key_of(self, side: Side, values: Mapping[str, Any]) -> str | None:
        names = self.erp_key_fields if side is Side.ERP else self.crm_key_fields
        if not names:
            return None
        parts = [values.get(n) for n in names]
        if all(p in (None, "") for p in parts):
            return None
        return "|".join("" if p is None else str(p) for p in parts)

    def passes_filter(self, side: Side, values: Mapping[str, Any]) -> bool:
        conditions = self.erp_filter if side is Side.ERP else self.crm_filter
        for name, wanted in conditions.items():
            have = values.get(name)
            if isinstance(wanted, list):
                if have not in wanted:
                    return False
            elif isinstance(wanted, Mapping) and "not" in wanted:
                if have == wanted["not"] or (wanted["not"] == "" and have is None):
                    return False
            elif have != wanted:
                return False
        return True


# ------------------------------------------------------------------------------ (de)serialising


def _enum(kind: type[enum.StrEnum], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidInput(f"{name} must be one of {allowed}, not {value!r}", field=name) from None


def field_to_dict(fm: FieldMapping) -> dict[str, Any]:
    return {
        "erpField": fm.erp_field,
        "crmField": fm.crm_field,
        "direction": fm.direction.value,
        "constant": fm.constant,
        "valueMap": dict(fm.value_map) if fm.value_map is not None else None,
        "lookup": None
        if fm.lookup is None
        else {
            "mapping": fm.lookup.mapping,
            "erpBy": fm.lookup.erp_by,
            "crmFallback": fm.lookup.crm_fallback,
            "emptyIsLocalCurrency": fm.lookup.empty_is_local_currency,
        },
        "transforms": list(fm.transforms),
        "required": fm.required,
        "enabled": fm.enabled,
        "crmNav": fm.crm_nav,
        "crmNavSet": fm.crm_nav_set,
        "label": fm.label,
    }


def fingerprint(mapping: TableMapping) -> str:
    """A short digest of what decides whether a coupled pair is in step under `mapping`: its entity
    sets, direction and field mappings (canonical JSON, SHA-256, 16 hex digits). A coupling stores
    the fingerprint of the mapping a run loaded next to the ETags the pair settled at, and a pair is
    taken for in step only by a run of a mapping with the same fingerprint
    (gateway.store.sync_state.settled_pairs): a run that began before an admin changed the fields
    may still settle pairs under the old ones. The conflict policy is left out: a pair that compares
    unchanged has no conflict to resolve; so are the interval, filters and match rules."""
    canonical = json.dumps(
        {
            "erp": mapping.erp_entity,
            "crm": mapping.crm_entity,
            "direction": mapping.direction.value,
            "fields": [field_to_dict(fm) for fm in mapping.fields],
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def field_from_dict(data: Mapping[str, Any]) -> FieldMapping:
    lookup = data.get("lookup")
    transforms = tuple(data.get("transforms") or ())
    for t in transforms:
        if t not in TRANSFORMS and not (t.startswith("truncate:") and t[9:].isdigit()):
            raise InvalidInput(f"unknown transformation {t!r}", field="transforms")
    if not data.get("erpField") and not data.get("crmField"):
        raise InvalidInput("a field mapping needs an ERP field, a CRM field or both", field="fields")
    return FieldMapping(
        erp_field=data.get("erpField") or None,
        crm_field=data.get("crmField") or None,
        direction=_enum(MappingDirection, data.get("direction", "bidirectional"), "direction"),
        constant=data.get("constant"),
        value_map=data.get("valueMap"),
        lookup=None
        if not lookup
        else Lookup(
            mapping=str(lookup["mapping"]),
            erp_by=str(lookup.get("erpBy", "key")),
            crm_fallback=lookup.get("crmFallback"),
            empty_is_local_currency=bool(lookup.get("emptyIsLocalCurrency", False)),
        ),
        transforms=transforms,
        required=bool(data.get("required", False)),
        enabled=bool(data.get("enabled", True)),
        crm_nav=data.get("crmNav"),
        crm_nav_set=data.get("crmNavSet"),
        label=str(data.get("label") or ""),
    )


SETTABLE = (
    "enabled",
    "direction",
    "conflictPolicy",
    "mergeFallback",
    "deletionPolicy",
    "intervalSeconds",
    "syncOnlyCoupled",
    "fields",
    "matchGroups",
    "matchCaseSensitive",
    "erpFilter",
    "crmFilter",
)


def patch_mapping(mapping: TableMapping, changes: Mapping[str, Any]) -> TableMapping:
    """Apply an admin's PATCH (camelCase keys of `SETTABLE`) and validate the result."""
    unknown = set(changes) - set(SETTABLE)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    updated = mapping
    if "enabled" in changes:
        updated = replace(updated, enabled=bool(changes["enabled"]))
    if "direction" in changes:
        updated = replace(updated, direction=_enum(MappingDirection, changes["direction"], "direction"))
    if "conflictPolicy" in changes:
        updated = replace(
            updated, conflict_policy=_enum(ConflictPolicy, changes["conflictPolicy"], "conflictPolicy")
        )
    if "mergeFallback" in changes:
        fallback = _enum(ConflictPolicy, changes["mergeFallback"], "mergeFallback")
        if fallback is ConflictPolicy.MERGE:
            raise InvalidInput("the merge fallback cannot be merge", field="mergeFallback")
        updated = replace(updated, merge_fallback=fallback)
    if "deletionPolicy" in changes:
        updated = replace(
            updated, deletion_policy=_enum(DeletionPolicy, changes["deletionPolicy"], "deletionPolicy")
        )
    if "intervalSeconds" in changes:
        seconds = changes["intervalSeconds"]
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            raise InvalidInput("intervalSeconds must be a positive integer", field="intervalSeconds")
        updated = replace(updated, interval_seconds=seconds)
    if "syncOnlyCoupled" in changes:
        updated = replace(updated, sync_only_coupled=bool(changes["syncOnlyCoupled"]))
    if "fields" in changes:
        fields = tuple(field_from_dict(f) for f in changes["fields"])
        for position, fm in enumerate(fields):
            _check_one_sided(fm, position)
        updated = replace(updated, fields=fields)
    if "matchGroups" in changes:
        updated = replace(updated, match_groups=match_groups_from(changes["matchGroups"]))
    if "matchCaseSensitive" in changes:
        updated = replace(updated, match_case_sensitive=bool(changes["matchCaseSensitive"]))
    if "erpFilter" in changes:
        updated = replace(updated, erp_filter=dict(changes["erpFilter"] or {}))
    if "crmFilter" in changes:
        updated = replace(updated, crm_filter=dict(changes["crmFilter"] or {}))
    return updated


def _check_one_sided(fm: FieldMapping, position: int) -> None:
    """An admin's field with one side only sends its `constant` to that side (`map_field`): without
    a constant it would blank the field on every record the run writes, so it is refused. Stored
    mappings are not checked on load (`mapping_from_dict`): only what an admin sends now."""
    if fm.erp_field is not None and fm.crm_field is not None:
        return
    name, missing, towards = (
        (fm.erp_field, "crmField", MappingDirection.CRM_TO_ERP)
        if fm.erp_field is not None
        else (fm.crm_field, "erpField", MappingDirection.ERP_TO_CRM)
    )
    if fm.direction not in (towards, MappingDirection.BIDIRECTIONAL):
        raise InvalidInput(
            f"fields.{position}: a field with no {missing} only writes a constant into {name}, so its "
            f"direction must be {towards.value} or bidirectional, not {fm.direction.value}",
            field=f"fields.{position}.direction",
        )
    if fm.constant is None:
        raise InvalidInput(
            f"fields.{position}: give {missing} (the other side's field {name} pairs with), or a "
            f"constant to write into {name}; with neither, every run would blank {name} on each "
            "record it writes",
            field=f"fields.{position}.{missing}",
        )


def match_groups_from(value: Sequence[Sequence[Any]]) -> tuple[tuple[tuple[str, str], ...], ...]:
    groups: list[tuple[tuple[str, str], ...]] = []
    for group in value:
        pairs = []
        for pair in group:
            if isinstance(pair, Mapping):
                pairs.append((str(pair["erpField"]), str(pair["crmField"])))
            else:
                erp_field, crm_field = pair
                pairs.append((str(erp_field), str(crm_field)))
        if pairs:
            groups.append(tuple(pairs))
    return tuple(groups)


def mapping_to_dict(mapping: TableMapping) -> dict[str, Any]:
    """The JSON an admin reads (and the shape PATCH accepts, for the `SETTABLE` keys)."""
    return {
        "name": mapping.name,
        "erpEntity": mapping.erp_entity,
        "erpApi": mapping.erp_api,
        "crmEntity": mapping.crm_entity,
        "direction": mapping.direction.value,
        "dependencies": list(mapping.dependencies),
        "erpFilter": dict(mapping.erp_filter),
        "crmFilter": dict(mapping.crm_filter),
        "syncOnlyCoupled": mapping.sync_only_coupled,
        "conflictPolicy": mapping.conflict_policy.value,
        "mergeFallback": mapping.merge_fallback.value,
        "deletionPolicy": mapping.deletion_policy.value,
        "intervalSeconds": mapping.interval_seconds,
        "enabled": mapping.enabled,
        "matchGroups": [[{"erpField": e, "crmField": c} for e, c in g] for g in mapping.match_groups],
        "matchCaseSensitive": mapping.match_case_sensitive,
        "erpKeyFields": list(mapping.erp_key_fields),
        "crmKeyFields": list(mapping.crm_key_fields),
        "erpNumberPrefix": mapping.erp_number_prefix,
        "description": mapping.description,
        "fields": [field_to_dict(f) for f in mapping.fields],
    }


def mapping_from_dict(data: Mapping[str, Any]) -> TableMapping:
    fallback = _enum(ConflictPolicy, data.get("mergeFallback", "erp_wins"), "mergeFallback")
    return TableMapping(
        name=str(data["name"]),
        erp_entity=str(data["erpEntity"]),
        erp_api=str(data.get("erpApi", "v2.0")),
        crm_entity=str(data["crmEntity"]),
        direction=_enum(MappingDirection, data["direction"], "direction"),
        fields=tuple(field_from_dict(f) for f in data.get("fields", ())),
        dependencies=tuple(data.get("dependencies", ())),
        erp_filter=dict(data.get("erpFilter") or {}),
        crm_filter=dict(data.get("crmFilter") or {}),
        sync_only_coupled=bool(data.get("syncOnlyCoupled", False)),
        conflict_policy=_enum(ConflictPolicy, data.get("conflictPolicy", "erp_wins"), "conflictPolicy"),
        merge_fallback=fallback,
        deletion_policy=_enum(DeletionPolicy, data.get("deletionPolicy", "manual"), "deletionPolicy"),
        interval_seconds=int(data.get("intervalSeconds", 30)),
        enabled=bool(data.get("enabled", True)),
        match_groups=match_groups_from(data.get("matchGroups", ())),
        match_case_sensitive=bool(data.get("matchCaseSensitive", False)),
        erp_key_fields=tuple(data.get("erpKeyFields", ())),
        crm_key_fields=tuple(data.get("crmKeyFields", ())),
        erp_number_prefix=str(data.get("erpNumberPrefix", "")),
        description=str(data.get("description", "")),
    )
