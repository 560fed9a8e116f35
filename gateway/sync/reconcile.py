"""Deciding what to write for one coupled pair: per field, which side changed since the last
agreed values; one-way fields follow their direction, two-way conflicts follow the mapping's policy
(erp_wins, crm_wins, latest_wins, merge with a named fallback, manual). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.domain import Side
from gateway.sync.model import ConflictPolicy, FieldMapping, MappingDirection, TableMapping
from gateway.sync.values import SKIP, LookupTable, canon, map_field, source_value


@dataclass(frozen=True, slots=True)
class ConflictField:
    field: str
    erp_value: Any
    crm_value: Any


@dataclass
class Outcome:
    erp_changes: dict[str, Any] = field(default_factory=dict)
    crm_changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[ConflictField] = field(default_factory=list)
    skipped: bool = False
    """True when the policy wants an admin (manual): nothing is written."""

    @property
    def unchanged(self) -> bool:
        return not self.erp_changes and not self.crm_changes and not self.skipped


def snapshot(mapping: TableMapping, *, erp: Mapping[str, Any], crm: Mapping[str, Any]) -> dict[str, Any]:
    """The agreed values of every mapped field on both sides: stored on the coupling as `last_synced`."""
    erp_values: dict[str, Any] = {}
    crm_values: dict[str, Any] = {}
    for fm in mapping.fields:
        if fm.erp_field:
            erp_values[fm.erp_field] = canon(source_value(erp, fm.erp_field))
        if fm.crm_field:
            crm_values[fm.crm_field] = canon(crm.get(fm.crm_field))
    return {"erp": erp_values, "crm": crm_values}


LATEST_WINS_TIE = Side.ERP
"""Who wins `latest_wins` when neither edit is provably the later one: the ERP, the system of record
(as on a first synchronization). See `later_side`."""


def stamp_resolution(stamp: datetime) -> timedelta:
    """How precise a modified-on stamp is, as far as the stamp shows: a sub-millisecond part means
    microseconds (.NET writes 100 ns, parsed to µs), a fraction means milliseconds (BC's
    `lastModifiedDateTime`), none means whole seconds (Dataverse's `modifiedon`)."""
    if stamp.microsecond % 1000:
        return timedelta(microseconds=1)
    if stamp.microsecond:
        return timedelta(milliseconds=1)
    return timedelta(seconds=1)


def later_side(erp_modified: datetime | None, crm_modified: datetime | None) -> Side | None:
    """The side whose last edit is provably later, at the full precision both stamps give; None on a tie.

    A stamp stands for the interval [stamp, stamp + its resolution): BC's 10:00:00.400 is a
    millisecond, Dataverse's 10:00:00 a whole second that may end at 10:00:00.999. One edit is later
    only when its interval starts at or after the other's ends; overlapping intervals (equal stamps,
    or a BC edit within the second a Dataverse stamp names) are a tie. A missing stamp loses to a
    present one; two missing stamps tie.
    """
    if erp_modified is None or crm_modified is None:
        if erp_modified is None and crm_modified is None:
            return None
        return Side.ERP if crm_modified is None else Side.CRM
    if crm_modified >= erp_modified + stamp_resolution(erp_modified):
        return Side.CRM
    if erp_modified >= crm_modified + stamp_resolution(crm_modified):
        return Side.ERP
    return None


def _winner(
    policy: ConflictPolicy, erp_modified: datetime | None, crm_modified: datetime | None
) -> Side | None:
    if policy is ConflictPolicy.ERP_WINS:
        return Side.ERP
    if policy is ConflictPolicy.CRM_WINS:
        return Side.CRM
    if policy is ConflictPolicy.LATEST_WINS:
        return later_side(erp_modified, crm_modified) or LATEST_WINS_TIE
    return None  # manual (merge is resolved field by field before this is asked)


def _two_way(fm: FieldMapping) -> bool:
    return fm.flows_from(Side.ERP) and fm.flows_from(Side.CRM)


def reconcile(
    mapping: TableMapping,
    *,
    erp: Mapping[str, Any],
    crm: Mapping[str, Any],
    last_synced: Mapping[str, Any],
    lookups: LookupTable,
    erp_modified: datetime | None = None,
    crm_modified: datetime | None = None,
    force: Side | None = None,
) -> Outcome:
    """What to write to each side so that both agree; raises MissingDependency for a field that must
    be written but whose lookup has no coupling. `force` makes one side win every two-way field."""
    last_erp: Mapping[str, Any] = last_synced.get("erp", {}) if last_synced else {}
    last_crm: Mapping[str, Any] = last_synced.get("crm", {}) if last_synced else {}
    initial = not last_synced
    suppliers: dict[int, Side] = {}
    conflicted: list[int] = []
    for index, fm in enumerate(mapping.fields):
        to_crm, to_erp = fm.flows_from(Side.ERP), fm.flows_from(Side.CRM)
        if to_crm and not to_erp:
            suppliers[index] = Side.ERP
            continue
        if to_erp and not to_crm:
            suppliers[index] = Side.CRM
            continue
        if not to_crm:
            continue
        if force is not None:
            suppliers[index] = force
            continue
        assert fm.erp_field is not None and fm.crm_field is not None
        erp_changed = initial or canon(source_value(erp, fm.erp_field)) != last_erp.get(fm.erp_field)
        crm_changed = initial or canon(crm.get(fm.crm_field)) != last_crm.get(fm.crm_field)
        if erp_changed and not crm_changed:
            suppliers[index] = Side.ERP
        elif crm_changed and not erp_changed:
            suppliers[index] = Side.CRM
        elif erp_changed and crm_changed:
            desired = map_field(fm, source=Side.ERP, values=erp, lookups=lookups)
            if desired is not SKIP and canon(desired) != canon(crm.get(fm.crm_field)):
                conflicted.append(index)
    outcome = Outcome()
    if conflicted:
        policy = mapping.conflict_policy
        if initial and policy in (ConflictPolicy.MANUAL, ConflictPolicy.MERGE):
            # A first synchronization has no common ancestor to merge from: the ERP is the record.
            policy = ConflictPolicy.ERP_WINS
        if policy is ConflictPolicy.MERGE:
            fallback = _winner(mapping.merge_fallback, erp_modified, crm_modified)
            if fallback is None:
                return _manual(mapping, conflicted, erp, crm)
            for index in conflicted:
                suppliers[index] = fallback
        else:
            winner = _winner(policy, erp_modified, crm_modified)
            if winner is None:
                return _manual(mapping, conflicted, erp, crm)
            # One winner per record (Microsoft's semantics): every two-way field takes its value.
            for index, fm in enumerate(mapping.fields):
                if _two_way(fm):
                    suppliers[index] = winner
    for index, side in suppliers.items():
        fm = mapping.fields[index]
        value = map_field(fm, source=side, values=erp if side is Side.ERP else crm, lookups=lookups)
        if value is SKIP:
            continue
        if side is Side.ERP:
            assert fm.crm_field is not None
            if canon(value) != canon(crm.get(fm.crm_field)):
                outcome.crm_changes[fm.crm_field] = value
        else:
            assert fm.erp_field is not None
            if "+" not in fm.erp_field and canon(value) != canon(erp.get(fm.erp_field)):
                outcome.erp_changes[fm.erp_field] = value
    return outcome


def _manual(
    mapping: TableMapping, conflicted: list[int], erp: Mapping[str, Any], crm: Mapping[str, Any]
) -> Outcome:
    conflicts = []
    for index in conflicted:
        fm = mapping.fields[index]
        assert fm.erp_field is not None and fm.crm_field is not None
        conflicts.append(ConflictField(fm.name, source_value(erp, fm.erp_field), crm.get(fm.crm_field)))
    return Outcome(conflicts=conflicts, skipped=True)


def creatable(mapping: TableMapping, source: Side) -> bool:
    """Whether a record only `source` holds may be created on the other side."""
    return mapping.direction is MappingDirection.BIDIRECTIONAL or mapping.direction.allows(source)
